// Building a module's command line from typed values, and reading its return parameters.
#pragma once

#include <offload/sem/semdescription.h>

#include <QVariant>

namespace offload::sem {

struct CommandLine
{
    QStringList arguments; // argv after the program
    QString error; // empty when the values are valid
    bool ok() const { return error.isEmpty(); }
};

// Validates values (by parameter name) against the description and builds the arguments:
// flagged parameters as "--longflag value" (or "-f value"), booleans as a bare flag when true,
// vectors comma-joined, `multiple` parameters repeated (comma-joined when also `aggregate`),
// points and regions as "x,y,z" and "x,y,z,rx,ry,rz" per point (a text value may hold several
// points separated by ';'), then index parameters in index order. An element outside the
// schema (Parameter::unknownElement) is passed as text, unchecked.
// A parameter without a value uses its default; one given an empty value (an empty string or
// list, a null QVariant) is left out, as Slicer leaves out parameters whose value is empty. Errors
// name the parameter: an unknown name, a value of the wrong type, one outside the constraints or
// the enumeration, a missing value for an index parameter. Floating-point values must be finite
// (NaN or infinity is an error). Numbers and enumeration values are checked and passed without
// surrounding blanks; other strings are passed exactly as given. If the module has return
// parameters and returnParameterFile is given, "--returnparameterfile <file>" is added. When a
// positional value starts with '-', "--" precedes the positional values so that the module reads
// them as data (TCLAP and argparse both honour it).
OFFLOAD_SEM_EXPORT CommandLine buildCommandLine(const Description &description,
    const QVariantMap &values, const QString &returnParameterFile = {});

// Checks one parameter's value by the rules buildCommandLine applies (the same code), and
// returns the error it would give, or an empty string. An empty value is valid except for an
// index parameter, which is required. Used by forms to validate a field as the user types.
OFFLOAD_SEM_EXPORT QString validateValue(const Parameter &parameter, const QVariant &value);

struct ReturnValues
{
    QVariantMap values; // typed by the description: qlonglong, double, bool, QString, QVariantList
    QStringList warnings; // unknown names, lines without '=', values of the wrong type
};

// Parses a --returnparameterfile: "name = value" lines, split at the first '=', trimmed;
// unknown names are ignored (with a warning) and empty values allowed.
OFFLOAD_SEM_EXPORT ReturnValues parseReturnParameters(
    const QByteArray &text, const Description &description);

} // namespace offload::sem
