#include <offload/process/semtagscanner.h>

#include <cctype>
#include <cmath>
#include <cstring>

namespace offload {

namespace {
constexpr qsizetype maxTag = 256;
constexpr qsizetype maxContent = 64 * 1024;
constexpr qsizetype maxLine = 64 * 1024;

// Elements whose content we read; the rest are markers.
bool hasContent(const QByteArray &name)
{
    return name == "filter-name" || name == "filter-comment" || name == "filter-progress"
        || name == "filter-stage-progress" || name == "filter-time"
        || name == "filter-progress-text" || name == "filter-result";
}

QByteArray attribute(const QByteArray &attrs, const char *key)
{
    const QByteArray needle = QByteArray(key) + '=';
    const qsizetype at = attrs.indexOf(needle);
    if (at < 0)
        return {};
    qsizetype i = at + needle.size();
    if (i >= attrs.size())
        return {};
    const char quote = attrs.at(i);
    if (quote == '"' || quote == '\'') {
        const qsizetype end = attrs.indexOf(quote, i + 1);
        return end < 0 ? QByteArray() : attrs.mid(i + 1, end - i - 1);
    }
    qsizetype end = i;
    while (end < attrs.size() && attrs.at(end) != ' ' && attrs.at(end) != '>')
        ++end;
    return attrs.mid(i, end - i);
}

QString trimmedText(const QByteArray &content)
{
    QString s = QString::fromUtf8(content).trimmed();
    while (s.size() >= 2
        && ((s.startsWith(QLatin1Char('"')) && s.endsWith(QLatin1Char('"')))
            || (s.startsWith(QLatin1Char('\'')) && s.endsWith(QLatin1Char('\'')))))
        s = s.mid(1, s.size() - 2).trimmed();
    return s;
}
} // namespace

SemTagScanner::SemTagScanner(OutputCallback output, ResultCallback result)
    : m_output(std::move(output)), m_result(std::move(result))
{ }

void SemTagScanner::feed(const char *data, qint64 size)
{
    const char *p = data;
    const char *const end = data + size;
    while (p < end) {
        switch (m_mode) {
        case Mode::Text: {
            // Runs of ordinary text go through in bulk; only '<' needs a closer look.
            const char *lt = static_cast<const char *>(std::memchr(p, '<', size_t(end - p)));
            const char *stop = lt ? lt : end;
            text(p, stop - p);
            p = stop;
            if (lt) {
                m_mode = Mode::Tag;
                m_tag = "<";
                ++p;
            }
            break;
        }
        case Mode::Tag: {
            const char c = *p++;
            m_tag += c;
            if (c == '>') {
                m_mode = Mode::Text;
                handleTag(std::exchange(m_tag, {}));
            } else if (m_tag.size() > maxTag || (m_tag.size() == 2 && c != 'f' && c != '/')) {
                // Not one of ours (or too long): it was ordinary text after all.
                m_mode = Mode::Text;
                const QByteArray tag = std::exchange(m_tag, {});
                text(tag.constData(), tag.size());
            }
            break;
        }
        case Mode::Content: {
            // Up to and including the next '>', which may close the element.
            const char *gt = static_cast<const char *>(std::memchr(p, '>', size_t(end - p)));
            const char *stop = gt ? gt + 1 : end;
            m_content.append(p, stop - p);
            p = stop;
            if (gt) {
                const QByteArray close = "</" + m_openName + '>';
                if (m_content.endsWith(close)) {
                    m_content.chop(close.size());
                    m_mode = Mode::Text;
                    handleContent(std::exchange(m_content, {}));
                    break;
                }
            }
            if (m_content.size() > maxContent) {
                // Never closed within the bound: give up on the element, keep the bytes as text.
                m_mode = Mode::Text;
                const QByteArray lost = std::exchange(m_content, {});
                text(lost.constData(), lost.size());
            }
            break;
        }
        }
    }
    emitLines();
}

void SemTagScanner::handleTag(const QByteArray &tag)
{
    // tag is "<...>"; accept "<filter-x attrs>", "</filter-x>", "<filter-x/>".
    QByteArray inner = tag.mid(1, tag.size() - 2).trimmed();
    const bool closing = inner.startsWith('/');
    if (closing)
        inner = inner.mid(1).trimmed();
    if (inner.endsWith('/'))
        inner.chop(1);
    const qsizetype space = inner.indexOf(' ');
    const QByteArray name = (space < 0 ? inner : inner.left(space)).toLower();
    if (!name.startsWith("filter-")) {
        text(tag.constData(), tag.size());
        return;
    }
    m_lineHadTag = true;
    if (closing) {
        if (name == "filter-start" || name == "filter-end")
            return; // </filter-start> closes the header block; nothing to record
        return; // a stray closing tag: dropped
    }
    if (name == "filter-start") {
        m_state.started = true;
        ++m_generation;
    } else if (name == "filter-end") {
        m_state.ended = true;
        ++m_generation;
    } else if (hasContent(name)) {
        m_openName = name;
        m_openAttrs = space < 0 ? QByteArray() : inner.mid(space + 1);
        m_mode = Mode::Content;
        m_content.clear();
    }
}

void SemTagScanner::applyNumber(
    std::optional<double> &target, const QByteArray &content, bool unitRange)
{
    bool ok = false;
    const double v = trimmedText(content).toDouble(&ok);
    if (!ok || !std::isfinite(v) || v < 0 || (unitRange && v > 1))
        return; // garbage, NaN, negative or above 1: ignored, last good value stays
    target = v;
    ++m_generation;
}

void SemTagScanner::handleContent(const QByteArray &content)
{
    const QByteArray name = std::exchange(m_openName, {});
    if (name == "filter-name") {
        m_state.name = trimmedText(content);
        ++m_generation;
    } else if (name == "filter-comment") {
        m_state.comment = trimmedText(content);
        ++m_generation;
    } else if (name == "filter-progress") {
        applyNumber(m_state.progress, content, true);
    } else if (name == "filter-stage-progress") {
        applyNumber(m_state.stageProgress, content, true);
    } else if (name == "filter-time") {
        applyNumber(m_state.time, content, false);
    } else if (name == "filter-progress-text") {
        m_state.progressText = trimmedText(content);
        applyNumber(m_state.progress, attribute(m_openAttrs, "progress"), true);
        ++m_generation;
    } else if (name == "filter-result") {
        if (m_result)
            m_result(QString::fromUtf8(attribute(m_openAttrs, "name")), trimmedText(content));
    }
}

void SemTagScanner::text(const char *data, qsizetype size)
{
    while (size > 0) {
        const char *nl = static_cast<const char *>(std::memchr(data, '\n', size_t(size)));
        const qsizetype lineRoom = maxLine - (m_out.size() - m_lineStart);
        const qsizetype take
            = std::min(nl ? qsizetype(nl - data + 1) : size, std::max<qsizetype>(lineRoom, 1));
        if (m_lineStart > 0 && m_out.size() + take > maxLine)
            emitLines(); // keeps every emitted piece within maxLine
        m_out.append(data, take);
        data += take;
        size -= take;
        if (m_out.endsWith('\n'))
            endLine(true);
        else if (m_out.size() - m_lineStart >= maxLine)
            endLine(false); // a line without end is passed on in bounded pieces
    }
}

void SemTagScanner::endLine(bool lineEnded)
{
    // A line that held only tags (and whitespace) is dropped entirely, newline included.
    if (m_lineHadTag) {
        bool blank = true;
        for (qsizetype i = m_lineStart; blank && i < m_out.size(); ++i)
            blank = std::isspace(static_cast<unsigned char>(m_out.at(i)));
        if (blank)
            m_out.truncate(m_lineStart);
    }
    m_lineStart = m_out.size();
    if (lineEnded)
        m_lineHadTag = false;
}

void SemTagScanner::emitLines()
{
    if (m_lineStart == 0)
        return;
    if (m_output)
        m_output(m_out.left(m_lineStart));
    m_out.remove(0, m_lineStart);
    m_lineStart = 0;
}

void SemTagScanner::finish()
{
    QByteArray pending;
    if (m_mode == Mode::Tag)
        pending = std::exchange(m_tag, {});
    else if (m_mode == Mode::Content)
        pending = std::exchange(m_content, {});
    m_mode = Mode::Text;
    text(pending.constData(), pending.size());
    endLine(true);
    emitLines();
}

} // namespace offload
