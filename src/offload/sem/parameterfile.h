// Parameter files: a module's values saved as JSON, read by `offload module --params` and by
// generated forms.
#pragma once

#include <offload/sem/export.h>

#include <QByteArray>
#include <QString>
#include <QStringList>
#include <QVariantMap>

namespace offload::sem {

struct ParameterFile
{
    QVariantMap values; // by parameter name: QString, double, bool or QVariantList of those
    QStringList defaults; // names given as null: the parameter keeps (or returns to) its default
    QString error; // empty when the file could be read
    bool ok() const { return error.isEmpty(); }
};

// Reads a parameter file: one JSON object whose keys are parameter names and whose values are
// strings, numbers, booleans, arrays of those, or null (the parameter is left at its default:
// its name goes to defaults, not to values). Anything else (not an object, a nested object, invalid
// JSON) is an error naming the key or the offset. Names and values are not checked against a
// description here: buildCommandLine does that, with the same messages as for any other values.
OFFLOAD_SEM_EXPORT ParameterFile parseParameterFile(const QByteArray &json);

// The JSON text of values as parseParameterFile reads it (indented, keys sorted).
OFFLOAD_SEM_EXPORT QByteArray parameterFileJson(const QVariantMap &values);

// The most bytes a parameter file is read from; real ones are a few hundred.
inline constexpr qint64 maxParameterFileBytes = qint64(16) << 20;

// Reads and parses the file at path without ever blocking: a FIFO, a device or a directory
// is refused at once, as is a file over maxParameterFileBytes. Errors name the path. Any
// thread.
OFFLOAD_SEM_EXPORT ParameterFile readParameterFile(const QString &path);

// Writes values to path atomically (a temporary file renamed over it). Returns an empty
// string or the error, naming the path. Any thread.
OFFLOAD_SEM_EXPORT QString writeParameterFile(const QString &path, const QVariantMap &values);

} // namespace offload::sem
