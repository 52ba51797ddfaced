#include <offload/process/progresslinescanner.h>

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonParseError>

#include <cmath>

namespace offload {

namespace {
constexpr qsizetype maxLine = 64 * 1024;
}

ProgressLineScanner::ProgressLineScanner(OutputCallback output, qint64 maxResultBytes)
    : m_output(std::move(output)), m_maxResult(maxResultBytes)
{ }

void ProgressLineScanner::feed(const char *data, qint64 size)
{
    if (m_complete) {
        if (m_resultBytes.size() + size > m_maxResult) {
            m_resultTooLarge = true;
            return;
        }
        m_resultBytes.append(data, size);
        return;
    }
    for (qint64 i = 0; i < size; ++i) {
        const char c = data[i];
        m_line += c;
        if (c == '\n') {
            line(std::exchange(m_line, {}), true);
            if (m_complete) { // the rest of this chunk is the result
                feed(data + i + 1, size - i - 1);
                return;
            }
        } else if (m_line.size() >= maxLine) {
            line(std::exchange(m_line, {}), false); // too long to be ours: plain output
        }
    }
}

void ProgressLineScanner::line(const QByteArray &text, bool ended)
{
    const QByteArray t = text.trimmed();
    if (ended && t == "COMPLETE") {
        m_complete = true;
        ++m_generation;
        return;
    }
    if (ended && t.startsWith("PROGRESS") && t.size() > 8 && (t.at(8) == ' ' || t.at(8) == '\t')) {
        bool ok = false;
        const double v = t.mid(9).trimmed().toDouble(&ok);
        if (ok && std::isfinite(v) && v >= 0 && v <= 1) {
            m_progress = v;
            ++m_generation;
        }
        return; // a PROGRESS line is never output, even with a bad value
    }
    if (m_output)
        m_output(text);
}

std::optional<QString> ProgressLineScanner::finish()
{
    if (!m_complete) {
        if (!m_line.isEmpty())
            line(std::exchange(m_line, {}), false);
        return std::nullopt;
    }
    // Bytes that are not the promised result are the program's output after all: they go
    // to the output (and so into the error's partial result), never nowhere.
    const auto unparsed = [this](QString why) {
        if (m_output && !m_resultBytes.isEmpty())
            m_output(std::exchange(m_resultBytes, {}));
        return std::optional<QString>(std::move(why));
    };
    if (m_resultTooLarge)
        return unparsed(
            QStringLiteral("the result after COMPLETE exceeds %1 bytes").arg(m_maxResult));
    QJsonParseError error {};
    // A bare JSON value (number, string) is accepted too: wrap and unwrap it.
    const QByteArray trimmed = m_resultBytes.trimmed();
    if (trimmed.isEmpty())
        return QStringLiteral("no JSON result after COMPLETE");
    const QJsonDocument doc = QJsonDocument::fromJson("[" + trimmed + "]", &error);
    if (error.error != QJsonParseError::NoError || doc.array().size() != 1)
        return unparsed(
            QStringLiteral("the result after COMPLETE is not one JSON document: %1")
                .arg(error.error != QJsonParseError::NoError ? error.errorString()
                                                             : QStringLiteral("several values")));
    m_result = doc.array().at(0);
    ++m_generation;
    return std::nullopt;
}

} // namespace offload
