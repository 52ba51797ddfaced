// ProgressLineScanner: reads "PROGRESS 0.42" lines, a COMPLETE marker and a trailing JSON
// result out of a program's stdout, as small Python scripts commonly print them.
#pragma once

#include <offload/process/export.h>

#include <QByteArray>
#include <QJsonValue>
#include <QString>

#include <functional>
#include <optional>

namespace offload {

// Incremental and bounded, like SemTagScanner. Before the marker, every line that is exactly
// "PROGRESS <number in [0,1]>" (surrounding whitespace allowed) updates progress() and is not
// output; other lines are output. A line "COMPLETE" switches to reading the result: everything
// after it, up to maxResultBytes, is parsed as one JSON document by finish().
// Thread-safety: one instance per stream, used by one thread at a time.
class OFFLOAD_PROCESS_EXPORT ProgressLineScanner
{
public:
    using OutputCallback = std::function<void(const QByteArray &text)>;

    explicit ProgressLineScanner(
        OutputCallback output = {}, qint64 maxResultBytes = qint64(64) << 20);

    void feed(const char *data, qint64 size);
    void feed(const QByteArray &data) { feed(data.constData(), data.size()); }

    // End of stream. Returns an error message if COMPLETE was seen but what followed is not a
    // JSON document (or exceeded the limit); the partial line, if any, is output.
    std::optional<QString> finish();

    std::optional<double> progress() const { return m_progress; }
    bool isComplete() const { return m_complete; }
    // Undefined until finish() parsed a result (a script may legitimately print null).
    const QJsonValue &result() const { return m_result; }
    quint64 generation() const { return m_generation; }

private:
    void line(const QByteArray &line, bool ended);
    OutputCallback m_output;
    qint64 m_maxResult;
    QByteArray m_line;
    QByteArray m_resultBytes;
    bool m_resultTooLarge = false;
    bool m_complete = false;
    std::optional<double> m_progress;
    QJsonValue m_result { QJsonValue::Undefined }; // distinct from a script that printed null
    quint64 m_generation = 0;
};

} // namespace offload
