// Private: a bounded tail of a byte stream (a process's stdout or stderr).
#pragma once

#include <QByteArray>

namespace offload::detail {

class LogRing
{
public:
    explicit LogRing(qint64 capacity = 64 * 1024) : m_capacity(capacity) { }
    void append(const char *data, qint64 size)
    {
        m_total += size;
        if (size >= m_capacity) {
            m_data = QByteArray(data + size - m_capacity, m_capacity);
            return;
        }
        m_data.append(data, size);
        if (m_data.size() > m_capacity * 2) // amortised trimming
            m_data.remove(0, m_data.size() - m_capacity);
    }
    QByteArray tail(qint64 bytes) const
    {
        const qint64 n = std::min<qint64>({ bytes, m_capacity, m_data.size() });
        return m_data.right(n);
    }
    qint64 totalBytes() const { return m_total; }
    qint64 droppedBytes() const
    {
        return m_total - std::min<qint64>(m_total, std::min<qint64>(m_capacity, m_data.size()));
    }

private:
    qint64 m_capacity;
    QByteArray m_data;
    qint64 m_total = 0;
};

} // namespace offload::detail
