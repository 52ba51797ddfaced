// SemDescription: a Slicer Execution Model module description, parsed from its XML.
#pragma once

#include <offload/sem/export.h>

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QString>
#include <QStringList>

#include <optional>
#include <vector>

namespace offload::sem {

// One parameter of a module. tag is the element name: integer, float, double, boolean,
// string, integer-vector, float-vector, double-vector, string-vector, the -enumeration forms,
// point, pointfile, region, file, directory, image, geometry, transform, table, measurement
// (the tags Slicer's ModuleDescriptionParser knows), or, with unknownElement, any other.
// docs/module-descriptions.md says how each element and attribute is read.
struct Parameter
{
    QString tag;
    QString name; // <name>, else the longflag (as Slicer), else the flag; may be empty
    QString flag; // without the leading '-'
    QString longflag; // without the leading "--"
    QStringList flagAliases, longflagAliases; // alias="..." (without dashes)
    QStringList deprecatedFlagAliases, deprecatedLongflagAliases; // deprecatedalias="..."
    std::optional<int> index;
    QString label, description, defaultValue;
    QString channel; // as written: "input", "output" (compared case-sensitively) or empty
    std::optional<double> minimum, maximum, step;
    QStringList elements; // enumerations
    bool multiple = false, hidden = false, advanced = false;
    bool aggregate = false; // geometry: the multiple values form one argument
    bool unknownElement = false; // an element outside the schema (e.g. <item>), passed as text
    QStringList fileExtensions;
    // type: the attribute, or Slicer's default for the tag (image, file, geometry, table and
    // measurement "scalar", transform "unknown", pointfile "point").
    QString coordinateSystem, type, reference;
    QList<QPair<QString, QString>> forwardReferences; // <reference role="" parameter=""/>

    // An element outside the schema is neither, whatever its name: its value is text.
    bool isVector() const { return !unknownElement && tag.endsWith(QLatin1String("-vector")); }
    bool isEnumeration() const
    {
        return !unknownElement && tag.endsWith(QLatin1String("-enumeration"));
    }
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
    QString index, location; // the module-level <index> (its place in a menu) and <location>
    std::vector<Group> groups;
    QStringList warnings; // unknown elements and attributes, lenient readings

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
    QString error; // empty on success
    qint64 line = 0, column = 0;
    bool ok() const { return description.has_value(); }
};

// Parses a module's XML description as Slicer's ModuleDescriptionParser reads it (anything
// printed before "<?xml" or "<executable" is skipped, as modules run with --xml sometimes print
// banners). docs/module-descriptions.md lists, element by element, what Slicer does and what
// Offload does. Invalid XML, or a description whose meaning is unclear (an index together
// with a flag, a parameter outside <parameters>), gives an error with line and column; so do
// a duplicate parameter name, an index that is not a non-negative integer, elements nested
// deeper than maxDescriptionDepth and a DTD with an internal subset, where entities are
// declared (descriptions need none, and entities can expand a small text into gigabytes).
// What Slicer refuses but can be read (an unknown element or attribute, a name or longflag
// that is not an identifier, a two-character flag, "True" for true, a type outside Slicer's
// list) is read with a warning that says so: an unknown element in a group is kept as a
// parameter (Parameter::unknownElement). Any input, however nested or large, ends in a
// result: it is read iteratively, never recursively.
OFFLOAD_SEM_EXPORT ParseResult parseDescription(const QByteArray &xml);

} // namespace offload::sem
