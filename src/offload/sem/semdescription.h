// SemDescription: a Slicer Execution Model module description, parsed from its XML.
#pragma once

#include <offload/sem/export.h>

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <optional>
#include <vector>

namespace offload::sem {

// One parameter of a module. tag is the element name: integer, float, double, boolean,
// string, their -vector forms, the -enumeration forms, point, point-vector, pointfile, region,
// region-vector, file, directory, image, geometry, transform, table, measurement.
struct Parameter
{
    QString tag;
    QString name;
    QString flag;      // without the leading '-'
    QString longflag;  // without the leading "--"
    QStringList flagAliases, longflagAliases;
    std::optional<int> index;
    QString label, description, defaultValue;
    QString channel;   // "input", "output" or empty
    std::optional<double> minimum, maximum, step;
    QStringList elements; // enumerations
    bool multiple = false, hidden = false, advanced = false;
    QStringList fileExtensions;
    QString coordinateSystem, type, reference;
    bool unknownElement = false; // an element outside the schema (e.g. <item>): passed as text

    bool isVector() const { return tag.endsWith(QLatin1String("-vector")); }
    bool isEnumeration() const { return tag.endsWith(QLatin1String("-enumeration")); }
    // An output with neither flag nor index: written to the --returnparameterfile.
    bool isReturnParameter() const
    {
        return channel == QLatin1String("output") && flag.isEmpty() && longflag.isEmpty() && !index;
    }
};

struct Group
{
    QString label, description;
    bool advanced = false;
    std::vector<Parameter> parameters;
};

struct OFFLOAD_SEM_EXPORT Description
{
    QString title, category, description, version, documentationUrl, license, contributor,
            acknowledgements;
    std::vector<Group> groups;
    QStringList warnings; // unknown elements, ignored

    const Parameter *parameter(const QString &name) const;
    std::vector<const Parameter *> parameters() const;
};

// The most bytes a description is read from: a sidecar, a file given to `offload describe`,
// a module's --xml output. Real descriptions are a few kilobytes.
inline constexpr qint64 maxDescriptionBytes = qint64(16) << 20;

// How deeply elements may nest in a description (the root <executable> counts as 1). A real
// one nests 4 or 5 deep; more is refused with an error, never read recursively.
inline constexpr int maxDescriptionDepth = 100;

struct ParseResult
{
    std::optional<Description> description;
    QString error;  // empty on success
    qint64 line = 0, column = 0;
    bool ok() const { return description.has_value(); }
};

// Parses a module's XML description (anything printed before "<?xml" or "<executable" is
// skipped, as modules run with --xml sometimes print banners). Invalid XML or an invalid
// description (missing or duplicate names, bad constraints, enumerations without elements,
// index and flag both missing on an input) gives an error with line and column, as do elements
// nested deeper than maxDescriptionDepth and a DTD with an internal subset, where entities are
// declared (descriptions need none, and entities can expand a small text into gigabytes). Any
// input, however nested or large, ends in a result: it is read iteratively, never recursively.
OFFLOAD_SEM_EXPORT ParseResult parseDescription(const QByteArray &xml);

} // namespace offload::sem
