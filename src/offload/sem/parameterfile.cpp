#include <offload/sem/parameterfile.h>

#include <offload/core/regularfile_p.h>

#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QSaveFile>

#include <algorithm>

namespace offload::sem {

namespace {

bool isScalar(const QJsonValue &v)
{
    return v.isString() || v.isDouble() || v.isBool();
}

} // namespace

ParameterFile parseParameterFile(const QByteArray &json)
{
    ParameterFile out;
    QJsonParseError parseError;
    const QJsonDocument doc = QJsonDocument::fromJson(json, &parseError);
    if (parseError.error != QJsonParseError::NoError) {
        out.error = QStringLiteral("not valid JSON at offset %1: %2")
                        .arg(parseError.offset)
                        .arg(parseError.errorString());
        return out;
    }
    if (!doc.isObject()) {
        out.error = QStringLiteral("a parameter file is one JSON object of names and values");
        return out;
    }
    const QJsonObject object = doc.object();
    for (auto it = object.begin(); it != object.end(); ++it) {
        const QJsonValue v = it.value();
        if (v.isNull()) {
            out.defaults << it.key();
            continue;
        }
        if (isScalar(v)) {
            out.values.insert(it.key(), v.toVariant());
            continue;
        }
        if (v.isArray()) {
            const QJsonArray array = v.toArray();
            if (std::all_of(
                    array.begin(), array.end(), [](const QJsonValue &e) { return isScalar(e); })) {
                out.values.insert(it.key(), array.toVariantList());
                continue;
            }
        }
        out.values.clear();
        out.defaults.clear();
        out.error
            = QStringLiteral("'%1': a value is a string, a number, a boolean or an array of those")
                  .arg(it.key());
        return out;
    }
    return out;
}

QByteArray parameterFileJson(const QVariantMap &values)
{
    return QJsonDocument(QJsonObject::fromVariantMap(values)).toJson(QJsonDocument::Indented);
}

ParameterFile readParameterFile(const QString &path)
{
    const detail::RegularFileRead file
        = detail::readRegularFile(QFile::encodeName(path), maxParameterFileBytes);
    if (!file.ok())
        return { {}, {}, file.error };
    ParameterFile out = parseParameterFile(file.data);
    if (!out.ok())
        out.error = QStringLiteral("%1: %2").arg(path, out.error);
    return out;
}

QString writeParameterFile(const QString &path, const QVariantMap &values)
{
    // Only what parseParameterFile reads back as written: no maps, no lists of lists, no
    // non-finite numbers (JSON has none: they would come back as null, "the default").
    const QByteArray json = parameterFileJson(values);
    const ParameterFile back = parseParameterFile(json);
    if (!back.ok() || back.values.size() != values.size())
        return QStringLiteral("cannot write %1: a parameter file holds strings, finite numbers, "
                              "booleans and lists of those; %2")
            .arg(path, back.ok() ? QStringLiteral("a value has none of these shapes") : back.error);
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly) || file.write(json) < 0 || !file.commit())
        return QStringLiteral("cannot write %1: %2").arg(path, file.errorString());
    return {};
}

} // namespace offload::sem
