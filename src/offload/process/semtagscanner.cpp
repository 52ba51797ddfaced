#include <offload/process/semtagscanner.h>

#include <cmath>

namespace offload {

namespace {
constexpr qsizetype maxTag = 256;
constexpr qsizetype maxContent = 64 * 1024;
constexpr qsizetype maxLine = 64 * 1024;

// Elements whose content we read; the rest are markers.
bool hasContent(const QByteArray &name)
{
    return name == "filter-name" || name == "filter-comment" || name == "filter-progress"
            || name == "filter-stage-progress" || name == "filter-time" || name == "filter-progress-text"
            || name == "filter-result";
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
    while (s.size() >= 2 && ((s.startsWith(QLatin1Char('"')) && s.endsWith(QLatin1Char('"')))
                             || (s.startsWith(QLatin1Char('\'')) && s.endsWith(QLatin1Char('\'')))))
        s = s.mid(1, s.size() - 2).trimmed();
    return s;
}
} // namespace

SemTagScanner::SemTagScanner(OutputCallback output, ResultCallback result)
    : m_output(std::move(output))
    , m_result(std::move(result))
{
}

void SemTagScanner::feed(const char *data, qint64 size)
{
    for (qint64 i = 0; i < size; ++i) {
        const char c = data[i];
        switch (m_mode) {
        case Mode::Text:
            if (c == '<') {
                m_mode = Mode::Tag;
                m_tag = "<";
            } else {
                text(c);
            }
            break;
        case Mode::Tag:
            m_tag += c;
            if (c == '>') {
                m_mode = Mode::Text;
                handleTag(std::exchange(m_tag, {}));
            } else if (m_tag.size() > maxTag || (m_tag.size() == 2 && c != 'f' && c != '/')) {
                // Not one of ours (or too long): it was ordinary text after all.
                m_mode = Mode::Text;
                const QByteArray tag = std::exchange(m_tag, {});
                for (char t : tag)
                    text(t);
            }
            break;
        case Mode::Content:
            m_content += c;
            if (c == '>') {
                const QByteArray close = "</" + m_openName + '>';
                if (m_content.endsWith(close)) {
                    m_content.chop(close.size());
                    m_mode = Mode::Text;
                    handleContent(std::exchange(m_content, {}));
                }
            } else if (m_content.size() > maxContent) {
                // Never closed within the bound: give up on the element, keep the bytes as text.
                m_mode = Mode::Text;
                const QByteArray lost = std::exchange(m_content, {});
                for (char t : lost)
                    text(t);
            }
            break;
        }
    }
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
        for (char t : tag)
            text(t);
        return;
    }
    m_lineHadTag = true;
    if (closing) {
        if (name == "filter-start" || name == "filter-end")
            return; // </filter-start> closes the header block; nothing to record
        return;    // a stray closing tag: dropped
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

void SemTagScanner::applyNumber(std::optional<double> &target, const QByteArray &content, bool unitRange)
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

void SemTagScanner::text(char c)
{
    m_line += c;
    if (c == '\n')
        flushLine(true);
    else if (m_line.size() >= maxLine)
        flushLine(false);
}

void SemTagScanner::flushLine(bool lineEnded)
{
    const bool onlyTags = m_lineHadTag && m_line.trimmed().isEmpty();
    if (!onlyTags && !m_line.isEmpty() && m_output)
        m_output(m_line);
    m_line.clear();
    if (lineEnded)
        m_lineHadTag = false;
}

void SemTagScanner::finish()
{
    QByteArray pending;
    if (m_mode == Mode::Tag)
        pending = std::exchange(m_tag, {});
    else if (m_mode == Mode::Content)
        pending = std::exchange(m_content, {});
    m_mode = Mode::Text;
    for (char c : pending)
        text(c);
    flushLine(true);
}

} // namespace offload
