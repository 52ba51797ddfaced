// SemTagScanner: reads the Slicer Execution Model progress tags out of a program's stdout.
#pragma once

#include <offload/process/export.h>

#include <QByteArray>
#include <QString>

#include <functional>
#include <optional>

namespace offload {

// What the tags said so far; last value wins. Absent values stay empty.
struct SemProgress
{
    QString name; // <filter-name>
    QString comment; // <filter-comment>, trimmed of whitespace and quotes
    std::optional<double> progress; // <filter-progress>, overall, in [0, 1]
    std::optional<double> stageProgress; // <filter-stage-progress>, in [0, 1]
    QString progressText; // CTK's <filter-progress-text progress="x">text</...>
    std::optional<double> time; // <filter-time>, seconds
    bool started = false; // <filter-start> seen
    bool ended = false; // <filter-end> seen
};

// An incremental scanner: feed stdout bytes as they arrive, in any split. Tags may sit on one
// line, spread over lines with blank lines between, be indented, quoted, or stand alone among
// ordinary text. Ordinary text is passed on as output with the tags removed (a line that held
// only tags and whitespace disappears), in whole lines, in at most one call per feed() (plus
// pieces of at most 64 KiB of a line without end). Malformed markup is treated as text, never an
// error; progress values that are not numbers in [0, 1] are ignored. Memory is bounded: a tag
// longer than 256 bytes, tag content over 64 KiB or a line over 64 KiB is flushed as plain text.
// Thread-safety: one instance per stream, used by one thread at a time.
class OFFLOAD_PROCESS_EXPORT SemTagScanner
{
public:
    using OutputCallback = std::function<void(const QByteArray &text)>;
    using ResultCallback = std::function<void(const QString &name, const QString &value)>;

    explicit SemTagScanner(OutputCallback output = {}, ResultCallback result = {});

    void feed(const char *data, qint64 size);
    void feed(const QByteArray &data) { feed(data.constData(), data.size()); }
    // End of stream: flushes a pending partial line or unterminated tag as text.
    void finish();

    const SemProgress &progress() const { return m_state; }
    // Incremented whenever a tag changed progress(), for cheap change detection.
    quint64 generation() const { return m_generation; }

private:
    enum class Mode { Text, Tag, Content };
    void handleTag(const QByteArray &tag);
    void handleContent(const QByteArray &content);
    void text(const char *data, qsizetype size); // ordinary text, any length, newlines included
    void endLine(bool lineEnded);
    void emitLines();
    void applyNumber(std::optional<double> &target, const QByteArray &content, bool unitRange);

    OutputCallback m_output;
    ResultCallback m_result;
    SemProgress m_state;
    quint64 m_generation = 0;
    Mode m_mode = Mode::Text;
    QByteArray m_tag; // "<...>" being read
    QByteArray m_content; // content of the open element
    QByteArray m_openName; // element whose content we read ("filter-name", ...)
    QByteArray m_openAttrs; // its attributes (progress="", name="")
    // Ordinary text waiting to be emitted: whole lines, then the current unfinished line from
    // m_lineStart. Emitted once per feed() so that a chunk costs one callback, not one a line.
    QByteArray m_out;
    qsizetype m_lineStart = 0;
    bool m_lineHadTag = false;
};

} // namespace offload
