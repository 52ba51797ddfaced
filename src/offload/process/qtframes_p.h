// Private: the worker protocol's frame decoder with headers parsed by QJsonDocument.
#pragma once

#include <offload/workersdk/protocol.h>

#include <QJsonDocument>
#include <QJsonObject>

#include <cmath>

namespace offload::detail {

struct QtJsonTraits
{
    using Header = QJsonObject;
    static bool parseHeader(std::string_view text, Header &out, int64_t &size, std::string &error)
    {
        QJsonParseError parseError {};
        const QJsonDocument doc = QJsonDocument::fromJson(
            QByteArray::fromRawData(text.data(), qsizetype(text.size())), &parseError);
        if (parseError.error != QJsonParseError::NoError) {
            error = "frame header is not valid JSON: " + parseError.errorString().toStdString()
                + " at byte " + std::to_string(parseError.offset);
            return false;
        }
        if (!doc.isObject() || !doc.object().value(QLatin1String("type")).isString()) {
            error = "frame header is not a JSON object with a string \"type\"";
            return false;
        }
        out = doc.object();
        const QJsonValue s = out.value(QLatin1String("size"));
        size = 0;
        if (!s.isUndefined() && !s.isNull()) {
            const double d = s.toDouble(-1);
            // Range first: converting a double outside int64's range is undefined behaviour.
            if (!s.isDouble() || !(d >= 0) || d > 9.0e15 || d != std::floor(d)) {
                error = "frame payload size is not a non-negative integer";
                return false;
            }
            size = int64_t(d);
        }
        return true;
    }
};

using QtFrameDecoder = protocol::FrameDecoder<QtJsonTraits>;

inline std::string encodeQtFrame(QJsonObject header, const QByteArray &payload = {})
{
    if (!payload.isEmpty())
        header.insert(QLatin1String("size"), qint64(payload.size()));
    const QByteArray json = QJsonDocument(header).toJson(QJsonDocument::Compact);
    return protocol::encodeFrame(std::string_view(json.constData(), size_t(json.size())),
        std::string_view(payload.constData(), size_t(payload.size())));
}

} // namespace offload::detail
