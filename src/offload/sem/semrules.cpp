// What Slicer's ModuleDescriptionParser accepts: the tag rules and the text helpers.
#include "semrules_p.h"

namespace offload::sem::detail {

// The parameter elements Slicer's parser knows, and which attributes it reads on each.
const QHash<QString, TagRule> &tagRules()
{
    static const QHash<QString, TagRule> rules = [] {
        QHash<QString, TagRule> r;
        const auto list = [](std::initializer_list<const char *> l) {
            QStringList out;
            for (const char *s : l)
                out << QLatin1String(s);
            return out;
        };
        for (const char *t : { "integer", "float", "double", "string" })
            r.insert(QLatin1String(t), { Hidden | MultipleIfTrue, {}, {} });
        for (const char *t : { "boolean", "integer-enumeration", "float-enumeration",
                 "double-enumeration", "string-enumeration" })
            r.insert(QLatin1String(t), { Hidden, {}, {} });
        for (const char *t : { "integer-vector", "float-vector", "double-vector", "string-vector" })
            r.insert(QLatin1String(t), { 0, {}, {} });
        for (const char *t : { "point", "region" })
            r.insert(QLatin1String(t), { Multiple | CoordinateSystem | OthersRefused, {}, {} });
        // Slicer's check of pointfile's type lets every value through but "closedcurve" (a
        // slip in its condition); Offload takes any value.
        r.insert(QStringLiteral("pointfile"),
            { Multiple | Type | FileExtensions | CoordinateSystem | OthersRefused, {},
                QStringLiteral("point") });
        r.insert(QStringLiteral("file"),
            { Multiple | FileExtensions | OthersRefused, {}, QStringLiteral("scalar") });
        r.insert(QStringLiteral("directory"), { SoleMultiple, {}, {} });
        r.insert(QStringLiteral("transform"),
            { Multiple | Type | FileExtensions | Reference | OthersRefused,
                list({ "linear", "nonlinear", "bspline" }), QStringLiteral("unknown") });
        r.insert(QStringLiteral("image"),
            { Multiple | Type | FileExtensions | Hidden | Reference | OthersRefused,
                list({ "any", "scalar", "label", "tensor", "diffusion-weighted", "vector", "signal",
                    "multichannel", "dynamic-contrast-enhanced" }),
                QStringLiteral("scalar") });
        r.insert(QStringLiteral("geometry"),
            { Multiple | Aggregate | Type | FileExtensions | Reference | OthersRefused,
                list({ "fiberbundle", "model" }), QStringLiteral("scalar") });
        r.insert(QStringLiteral("table"),
            { Multiple | Reference | Hidden | Type | FileExtensions | OthersRefused,
                list({ "color" }), QStringLiteral("scalar") });
        r.insert(QStringLiteral("measurement"),
            { Multiple | Reference | Hidden | Type | FileExtensions | OthersRefused, {},
                QStringLiteral("scalar") });
        return r;
    }();
    return rules;
}

// Elements that only mean something inside a parameter.
bool isParameterChild(QStringView n)
{
    for (const char *c : { "name", "flag", "longflag", "default", "channel", "element", "index",
             "constraints", "minimum", "maximum", "step", "reference" })
        if (n == QLatin1String(c))
            return true;
    return false;
}

// Slicer trims spaces, tabs and line feeds around text, nothing else (a carriage return of a
// line end never reaches it: XML turns line ends into line feeds).
QString trimmed(const QString &s)
{
    const auto blank = [](QChar c) {
        return c == QLatin1Char(' ') || c == QLatin1Char('\t') || c == QLatin1Char('\n');
    };
    qsizetype b = 0, e = s.size();
    while (b < e && blank(s.at(b)))
        ++b;
    while (e > b && blank(s.at(e - 1)))
        --e;
    return s.mid(b, e - b);
}

QString stripDashes(const QString &flag)
{
    QString f = trimmed(flag);
    qsizetype i = 0;
    while (i < f.size() && f.at(i) == QLatin1Char('-'))
        ++i;
    return f.mid(i);
}

QStringList aliases(QStringView value)
{
    QStringList out;
    for (const QString &a : value.toString().split(QLatin1Char(','), Qt::SkipEmptyParts))
        out << stripDashes(a);
    return out;
}

// Slicer's rule for names and long flags: letters, digits and underscores, not starting with a
// digit (GenerateCLP makes C++ variables of them).
bool isIdentifier(const QString &s)
{
    if (s.isEmpty() || s.at(0).isDigit())
        return false;
    for (QChar c : s) {
        const char16_t u = c.unicode();
        if (!(u == '_' || (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z')
                || (u >= '0' && u <= '9')))
            return false;
    }
    return true;
}

// Where the document's DOCTYPE opens an internal subset ('['), or -1 if it has none. Only the
// prolog is looked at (white space, the XML declaration, processing instructions, comments):
// a DTD can appear nowhere else. Parameter entities declared in an internal subset are
// expanded while the reader reads the DTD, before it reports it, so the subset has to be
// refused before the reader sees it.
qsizetype internalSubset(QByteArrayView doc)
{
    qsizetype i = 0;
    const auto at = [&doc, &i](const char *s) { return doc.sliced(i).startsWith(s); };
    const auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    for (;;) {
        while (i < doc.size() && blank(doc[i]))
            ++i;
        if (at("<?") || at("<!--")) {
            const bool pi = at("<?");
            i = doc.indexOf(pi ? QByteArrayView("?>") : QByteArrayView("-->"), i + 2);
            if (i < 0)
                return -1;
            i += pi ? 2 : 3;
            continue;
        }
        if (!at("<!DOCTYPE"))
            return -1;
        char quote = 0; // the system and public identifiers may hold '[' and '>'
        for (i += 9; i < doc.size(); ++i) {
            const char c = doc[i];
            if (quote)
                quote = c == quote ? 0 : quote;
            else if (c == '"' || c == '\'')
                quote = c;
            else if (c == '[')
                return i;
            else if (c == '>')
                return -1;
        }
        return -1;
    }
}

} // namespace offload::sem::detail
