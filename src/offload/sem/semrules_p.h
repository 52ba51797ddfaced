// Private: what Slicer's ModuleDescriptionParser accepts, as rules and small text helpers the
// description parser (semdescription.cpp) applies. Any thread: pure functions and constants.
#pragma once

#include <QByteArrayView>
#include <QHash>
#include <QString>
#include <QStringList>

namespace offload::sem::detail {

// What Slicer's ModuleDescriptionParser reads of each parameter element's attributes.
enum AttributeRule : unsigned {
    Hidden = 1u << 0, // "true" or "false", anything else refused
    MultipleIfTrue = 1u << 1, // multiple only if exactly "true", anything else ignored
    Multiple = 1u << 2, // "true" or "false", anything else refused
    CoordinateSystem = 1u << 3, // ijk, lps or ras
    Type = 1u << 4, // one of TagRule::types (any value if it is empty)
    FileExtensions = 1u << 5,
    Reference = 1u << 6,
    Aggregate = 1u << 7, // "true" or "false"
    SoleMultiple = 1u << 8, // multiple="true" read only as the element's only attribute
    OthersRefused = 1u << 9, // Slicer refuses other attributes (Offload warns); else ignored
};

struct TagRule
{
    unsigned attributes = 0;
    QStringList types; // the values Slicer accepts for type=""; empty: any
    QString defaultType; // what Slicer reads when type is not given
};

// The parameter elements Slicer's parser knows, and which attributes it reads on each.
const QHash<QString, TagRule> &tagRules();
// Elements that only mean something inside a parameter.
bool isParameterChild(QStringView n);
// Slicer trims spaces, tabs and line feeds around text, nothing else.
QString trimmed(const QString &s);
// A flag without its leading dashes, trimmed as Slicer trims.
QString stripDashes(const QString &flag);
// A comma-separated alias list, each without dashes.
QStringList aliases(QStringView value);
// Slicer's rule for names and long flags: letters, digits and underscores, not starting with a
// digit.
bool isIdentifier(const QString &s);
// Where the document's DOCTYPE opens an internal subset ('['), or -1 if it has none.
qsizetype internalSubset(QByteArrayView doc);

} // namespace offload::sem::detail
