#include "bufferframes_p.h"

#include "qtframes_p.h"

#include <offload/workersdk/memoryfile.h>

#include <QJsonArray>

namespace offload::detail {

BufferFrame encodeFrameWithBuffers(QJsonObject header, const QByteArray &payload,
    const std::vector<SharedBuffer> &buffers, bool passDescriptors)
{
    BufferFrame out;
    QByteArray all = payload;
    QJsonArray list;
    for (const SharedBuffer &b : buffers) {
        QJsonObject entry { { QStringLiteral("size"), b.size() } };
        if (b.isSealed())
            entry.insert(QStringLiteral("sealed"), true);
        if (passDescriptors) {
            out.descriptors.push_back(b);
            if (memoryFileOf(b)->pooled())
                entry.insert(QStringLiteral("reuse"), true);
        } else {
            entry.insert(QStringLiteral("inline"), true);
            all.append(reinterpret_cast<const char *>(b.constData()), qsizetype(b.size()));
        }
        list.append(entry);
    }
    header.insert(QStringLiteral("buffers"), list);
    header.insert(QStringLiteral("payload_size"), qint64(payload.size()));
    out.bytes = encodeQtFrame(header, all);
    return out;
}

bool takeFrameBuffers(const QJsonObject &header, QByteArray &payload, std::vector<int> &fds,
    std::vector<SharedBuffer> &out, QString &error, protocol::MappingCache *cache,
    const std::vector<SharedBuffer> &sent, const std::shared_ptr<void> &token)
{
    const QJsonValue list = header.value(QLatin1String("buffers"));
    if (list.isUndefined())
        return true;
    if (!list.isArray()) {
        error = QStringLiteral("\"buffers\" is not a list");
        return false;
    }
    // Sizes that are not whole numbers in range become 0 or -1, which the shared check
    // refuses (a double outside int64's range must not be converted).
    const auto exact = [](const QJsonValue &v) -> int64_t {
        if (!v.isDouble())
            return -1;
        return protocol::exactInt64(v.toDouble()).value_or(-1);
    };
    std::vector<protocol::BufferEntry> entries;
    for (const QJsonValue &v : list.toArray()) {
        const QJsonObject e = v.toObject();
        entries.push_back(
            { exact(e.value(QLatin1String("size"))), e.value(QLatin1String("sealed")).toBool(false),
                e.value(QLatin1String("inline")).toBool(false),
                e.value(QLatin1String("reuse")).toBool(false) });
    }
    std::vector<std::shared_ptr<protocol::MemoryFile>> files;
    std::vector<const protocol::MemoryFile *> mine;
    for (const SharedBuffer &b : sent)
        mine.push_back(memoryFileOf(b));
    std::vector<int> sentIndex;
    std::string why;
    if (!protocol::takeBuffers(entries, payload.constData(), payload.size(),
            exact(header.value(QLatin1String("payload_size"))), fds, files, why, cache, mine,
            &sentIndex)) {
        error = QString::fromStdString(why);
        return false;
    }
    for (size_t i = 0; i < files.size(); ++i) {
        auto &f = files[i];
        if (sentIndex[i] >= 0) {
            // Handed back: the caller's own buffer (and mapping) rather than a second mapping
            // whose pages would fault in again, and which a SharedBufferPool would not take.
            out.push_back(sent[size_t(sentIndex[i])]);
        } else if (token) {
            // The file and the token in one block; the buffer points at the file within it.
            struct Held
            {
                std::shared_ptr<protocol::MemoryFile> file;
                std::shared_ptr<void> token;
            };
            auto held = std::make_shared<Held>(Held { std::move(f), token });
            out.push_back(
                sharedBufferOf(std::shared_ptr<protocol::MemoryFile>(held, held->file.get())));
        } else {
            out.push_back(sharedBufferOf(std::move(f)));
        }
    }
    payload.truncate(qsizetype(exact(header.value(QLatin1String("payload_size")))));
    return true;
}

} // namespace offload::detail
