#include <offload/sem/semdescription.h>

#include <QHash>
#include <QSet>
#include <QXmlStreamReader>

#include <algorithm>
#include <cmath>

namespace offload::sem {

namespace {

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

class Parser
{
public:
    explicit Parser(const QByteArray &xml) : m_xml(xml) { }

    ParseResult run()
    {
        Description d;
        bool executable = false;
        while (!m_xml.atEnd() && !m_failed) {
            if (next() == QXmlStreamReader::StartElement) {
                if (m_xml.name() != QLatin1String("executable"))
                    return fail(QStringLiteral("the root element is <%1>, not <executable>")
                                    .arg(m_xml.name()));
                executable = true;
                readExecutable(d);
                break;
            }
        }
        if (!m_failed && m_xml.hasError())
            return fail(m_xml.errorString());
        if (m_failed)
            return m_result;
        if (!executable)
            return fail(QStringLiteral("no <executable> element"));
        validate(d);
        if (m_failed)
            return m_result;
        m_result.description = std::move(d);
        return m_result;
    }

private:
    ParseResult fail(const QString &message, qint64 line = -1, qint64 column = -1)
    {
        if (!m_failed) {
            m_failed = true;
            m_result.error = message;
            m_result.line = line >= 0 ? line : m_xml.lineNumber();
            m_result.column = column >= 0 ? column : m_xml.columnNumber();
        }
        return m_result;
    }

    // Every token is read through here: it keeps the nesting depth (and refuses more than
    // maxDescriptionDepth) and refuses a DTD that declares entities (a second line of defence:
    // parseDescription refuses internal subsets before the reader sees them). Nothing below
    // reads recursively, so no input can exhaust the stack.
    QXmlStreamReader::TokenType next()
    {
        const QXmlStreamReader::TokenType t = m_xml.readNext();
        switch (t) {
        case QXmlStreamReader::StartElement:
            if (++m_depth > maxDescriptionDepth) {
                fail(QStringLiteral(
                    "elements nested more than %1 deep; a module description needs a few levels")
                         .arg(maxDescriptionDepth));
                return QXmlStreamReader::Invalid;
            }
            break;
        case QXmlStreamReader::EndElement:
            --m_depth;
            break;
        case QXmlStreamReader::DTD:
            // Entities can expand a small text a million-fold; SEM descriptions use none (the
            // predefined &amp; &lt; ... and character references still work).
            if (!m_xml.entityDeclarations().isEmpty()) {
                fail(QStringLiteral(
                    "the DTD declares entities, which module descriptions do not use; refused"));
                return QXmlStreamReader::Invalid;
            }
            break;
        default:
            break;
        }
        return t;
    }

    // As QXmlStreamReader::readNextStartElement(), through next().
    bool nextStartElement()
    {
        for (;;) {
            switch (next()) {
            case QXmlStreamReader::StartElement:
                return true;
            case QXmlStreamReader::EndElement:
            case QXmlStreamReader::EndDocument:
            case QXmlStreamReader::Invalid:
                return false;
            default:
                break;
            }
        }
    }

    // Walks to the end of the current element, iteratively (QXmlStreamReader's
    // readElementText with IncludeChildElements recurses once per level), collecting its
    // text and its children's into out if given.
    void walkElement(QString *out)
    {
        for (int depth = 1; depth > 0;) {
            switch (next()) {
            case QXmlStreamReader::Characters:
            case QXmlStreamReader::EntityReference:
                if (out)
                    *out += m_xml.text();
                break;
            case QXmlStreamReader::StartElement:
                ++depth;
                break;
            case QXmlStreamReader::EndElement:
                --depth;
                break;
            case QXmlStreamReader::Invalid:
                return;
            default:
                break;
            }
        }
    }

    // As QXmlStreamReader::skipCurrentElement(), through next().
    void skipElement() { walkElement(nullptr); }

    // The current element's text, its children's included, trimmed as Slicer trims it.
    QString text()
    {
        QString out;
        walkElement(&out);
        return trimmed(out);
    }

    void warn(QStringList &warnings, const QString &message, qint64 line = -1)
    {
        warnings << QStringLiteral("line %1: %2")
                        .arg(line >= 0 ? line : m_xml.lineNumber())
                        .arg(message);
    }

    void unknown(QStringList &warnings)
    {
        warn(warnings, QStringLiteral("unknown element <%1> ignored").arg(m_xml.name()));
        skipElement();
    }

    // The module-level elements. Slicer's parser reads them wherever they stand, inside a group
    // or a parameter too; so does Offload. Returns false if the current element is none.
    bool readModuleField(Description &d)
    {
        const auto n = m_xml.name();
        QString *field = n == QLatin1String("title")  ? &d.title
            : n == QLatin1String("category")          ? &d.category
            : n == QLatin1String("version")           ? &d.version
            : n == QLatin1String("documentation-url") ? &d.documentationUrl
            : n == QLatin1String("license")           ? &d.license
            : n == QLatin1String("contributor")       ? &d.contributor
            : n == QLatin1String("acknowledgements")  ? &d.acknowledgements
            : n == QLatin1String("location")          ? &d.location
                                                      : nullptr;
        if (!field)
            return false;
        *field = text();
        return true;
    }

    void readExecutable(Description &d)
    {
        while (nextStartElement()) {
            const QString n = m_xml.name().toString();
            if (readModuleField(d))
                ;
            else if (n == QLatin1String("description"))
                d.description = text();
            else if (n == QLatin1String("index"))
                d.index = text();
            else if (n == QLatin1String("parameters"))
                readGroup(d);
            else if (n == QLatin1String("executable"))
                return void(fail(QStringLiteral("<executable> inside <executable>")));
            else if (tagRules().contains(n))
                return void(
                    fail(QStringLiteral("<%1> can only be used inside <parameters>").arg(n)));
            else
                unknown(d.warnings);
            if (m_failed)
                return;
        }
    }

    void readGroup(Description &d)
    {
        Group g;
        const QXmlStreamAttributes a = m_xml.attributes();
        // Slicer reads advanced only as the group's only attribute, and only "true" is true.
        g.advanced = a.size() == 1 && a.at(0).name() == QLatin1String("advanced")
            && a.at(0).value() == QLatin1String("true");
        while (nextStartElement()) {
            const QString n = m_xml.name().toString();
            if (n == QLatin1String("label"))
                g.label = text();
            else if (n == QLatin1String("description"))
                g.description = text();
            else if (tagRules().contains(n))
                readParameter(d, g, n, false);
            else if (n == QLatin1String("parameters") || n == QLatin1String("executable"))
                return void(fail(QStringLiteral("<%1> inside <parameters>").arg(n)));
            else if (readModuleField(d))
                ;
            else if (n == QLatin1String("index"))
                d.index = text();
            else if (isParameterChild(n))
                unknown(d.warnings);
            else
                readParameter(d, g, n, true);
            if (m_failed)
                return;
        }
        d.groups.push_back(std::move(g));
    }

    std::optional<double> number(const QString &what, const Parameter &p, QStringList &warnings)
    {
        const qint64 line = m_xml.lineNumber();
        const QString t = text();
        bool ok = false;
        const double v = t.toDouble(&ok);
        // "nan" and "inf" are numbers to toDouble, but no bound: every value passes a NaN one.
        if (!ok || !std::isfinite(v)) {
            warn(warnings,
                QStringLiteral("parameter '%1': <%2> is not a finite number: '%3'; no %2 is "
                               "checked")
                    .arg(p.name, what, t),
                line);
            return std::nullopt;
        }
        return v;
    }

    // true or false, as Slicer requires of the attribute. Slicer refuses anything else; Offload
    // reads it case-insensitively (as it always has: refusing now would break descriptions
    // that worked) and warns that Slicer would not load it.
    void readBoolean(
        const QString &tag, const QXmlStreamAttribute &attr, bool &out, QStringList &warnings)
    {
        const QStringView v = attr.value();
        out = v.trimmed().compare(QLatin1String("true"), Qt::CaseInsensitive) == 0;
        if (v != QLatin1String("true") && v != QLatin1String("false"))
            warn(warnings,
                QStringLiteral("<%1>: %2=\"%3\" read as %4; Slicer's parser refuses the "
                               "description (only \"true\" and \"false\")")
                    .arg(tag, attr.name(), v,
                        out ? QStringLiteral("true") : QStringLiteral("false")));
    }

    // Reads the attributes of a parameter element as Slicer's parser does (see tagRules()).
    void readAttributes(Parameter &p, const TagRule &rule, QStringList &warnings)
    {
        const QXmlStreamAttributes attrs = m_xml.attributes();
        p.type = rule.defaultType;
        if (rule.attributes & SoleMultiple) {
            p.multiple = attrs.size() == 1 && attrs.at(0).name() == QLatin1String("multiple")
                && attrs.at(0).value() == QLatin1String("true");
            return;
        }
        for (const QXmlStreamAttribute &attr : attrs) {
            const auto n = attr.name();
            const QString v = attr.value().toString();
            if (n == QLatin1String("hidden") && (rule.attributes & Hidden)) {
                readBoolean(p.tag, attr, p.hidden, warnings);
            } else if (n == QLatin1String("multiple") && (rule.attributes & MultipleIfTrue)) {
                p.multiple = v == QLatin1String("true");
            } else if (n == QLatin1String("multiple") && (rule.attributes & Multiple)) {
                readBoolean(p.tag, attr, p.multiple, warnings);
            } else if (n == QLatin1String("aggregate") && (rule.attributes & Aggregate)) {
                readBoolean(p.tag, attr, p.aggregate, warnings);
            } else if (n == QLatin1String("coordinateSystem")
                && (rule.attributes & CoordinateSystem)) {
                if (v != QLatin1String("ijk") && v != QLatin1String("lps")
                    && v != QLatin1String("ras"))
                    warn(warnings,
                        QStringLiteral("<%1>: coordinateSystem '%2' kept as written; Slicer's "
                                       "parser refuses the description (only ijk, lps and ras)")
                            .arg(p.tag, v));
                p.coordinateSystem = v;
            } else if (n == QLatin1String("type") && (rule.attributes & Type)) {
                if (!rule.types.isEmpty() && !rule.types.contains(v))
                    warn(warnings,
                        QStringLiteral("<%1>: type '%2' kept as written; Slicer's parser refuses "
                                       "the description (only %3)")
                            .arg(p.tag, v, rule.types.join(QStringLiteral(", "))));
                p.type = v;
            } else if (n == QLatin1String("fileExtensions") && (rule.attributes & FileExtensions)) {
                for (const QString &e : v.split(QLatin1Char(','), Qt::SkipEmptyParts))
                    if (const QString t = e.trimmed(); !t.isEmpty())
                        p.fileExtensions << t;
            } else if (n == QLatin1String("reference") && (rule.attributes & Reference)) {
                p.reference = v;
            } else if (rule.attributes & OthersRefused) {
                warn(warnings,
                    QStringLiteral("<%1> has no attribute %2 (Slicer's parser refuses it); ignored")
                        .arg(p.tag, n));
            }
        }
    }

    // A parameter element; unknownElement: one outside the schema, read like any other (its
    // attributes are not read) and kept so that its value reaches the module as text.
    void readParameter(Description &d, Group &g, const QString &tag, bool unknownElement)
    {
        QStringList &warnings = d.warnings;
        Parameter p;
        p.tag = tag;
        p.unknownElement = unknownElement;
        p.advanced = g.advanced;
        const qint64 line = m_xml.lineNumber(), column = m_xml.columnNumber();
        if (!unknownElement) {
            readAttributes(p, tagRules().value(tag), warnings);
            if (m_failed)
                return;
        }
        QString name;
        while (nextStartElement()) {
            const auto n = m_xml.name();
            const qint64 l = m_xml.lineNumber(), c = m_xml.columnNumber();
            if (n == QLatin1String("name")) {
                name = text();
                if (!name.isEmpty() && !isIdentifier(name)) // an empty one counts as none
                    warn(warnings,
                        QStringLiteral("<name> '%1' is not an identifier (letters, digits and "
                                       "underscores, not starting with a digit): Slicer's "
                                       "parser refuses the description; Offload reads it")
                            .arg(name),
                        l);
            } else if (n == QLatin1String("flag")) {
                const QXmlStreamAttributes a = m_xml.attributes();
                p.flagAliases = aliases(a.value(QLatin1String("alias")));
                p.deprecatedFlagAliases = aliases(a.value(QLatin1String("deprecatedalias")));
                p.flag = stripDashes(text());
                if (p.flag.size() > 1)
                    warn(warnings,
                        QStringLiteral("<flag> '%1' has more than one character: Slicer's parser "
                                       "refuses the description; Offload passes it as -%1")
                            .arg(p.flag),
                        l);
                if (p.index && !p.flag.isEmpty())
                    return void(fail(
                        QStringLiteral("<flag> cannot be given to a parameter with an <index>"), l,
                        c));
            } else if (n == QLatin1String("longflag")) {
                const QXmlStreamAttributes a = m_xml.attributes();
                p.longflagAliases = aliases(a.value(QLatin1String("alias")));
                p.deprecatedLongflagAliases = aliases(a.value(QLatin1String("deprecatedalias")));
                p.longflag = stripDashes(text());
                if (!isIdentifier(p.longflag))
                    warn(warnings,
                        QStringLiteral("<longflag> '%1' is not an identifier (letters, digits "
                                       "and underscores, not starting with a digit): Slicer's "
                                       "parser refuses the description; Offload passes it as "
                                       "--%1")
                            .arg(p.longflag),
                        l);
                if (p.index && !p.longflag.isEmpty())
                    return void(fail(
                        QStringLiteral("<longflag> cannot be given to a parameter with an <index>"),
                        l, c));
            } else if (n == QLatin1String("label"))
                p.label = text();
            else if (n == QLatin1String("description"))
                p.description = text();
            else if (n == QLatin1String("default"))
                p.defaultValue = text();
            else if (n == QLatin1String("channel")) {
                p.channel = text();
                if (!p.channel.isEmpty() && p.channel != QLatin1String("input")
                    && p.channel != QLatin1String("output"))
                    warn(warnings,
                        QStringLiteral("<channel> '%1' is neither input nor output (compared "
                                       "case-sensitively, as Slicer does)")
                            .arg(p.channel),
                        l);
            } else if (n == QLatin1String("element"))
                p.elements << text();
            else if (n == QLatin1String("index")) {
                if (!p.flag.isEmpty() || !p.longflag.isEmpty())
                    return void(fail(QStringLiteral("<index> cannot be given to a parameter with "
                                                    "a <flag> or <longflag>"),
                        l, c));
                bool ok = false;
                const int i = text().toInt(&ok);
                if (!ok || i < 0)
                    return void(
                        fail(QStringLiteral("<index> is not a non-negative integer"), l, c));
                p.index = i;
            } else if (n == QLatin1String("constraints")) {
                while (nextStartElement()) {
                    if (!readConstraint(p, warnings))
                        unknown(warnings);
                    if (m_failed)
                        return;
                }
            } else if (readConstraint(p, warnings)) {
                // Slicer reads <minimum>, <maximum> and <step> outside <constraints> too.
            } else if (n == QLatin1String("reference")) {
                const QXmlStreamAttributes a = m_xml.attributes();
                if (!a.isEmpty())
                    p.forwardReferences.append({ a.value(QLatin1String("role")).toString(),
                        a.value(QLatin1String("parameter")).toString() });
                skipElement();
            } else if (!readModuleField(d)) {
                unknown(warnings);
            }
            if (m_failed)
                return;
        }
        // As Slicer: <name>, else the longflag. Then, as Slicer does not, the flag.
        p.name = !name.isEmpty() ? name : p.longflag;
        if (unknownElement)
            warn(warnings,
                QStringLiteral("<%1> is outside the schema (Slicer's parser refuses it); kept as "
                               "parameter '%2', its value passed to the module as text")
                    .arg(tag, p.name),
                line);
        if (p.name.isEmpty() && !p.flag.isEmpty()) {
            p.name = p.flag;
            warn(warnings,
                QStringLiteral("a <%1> parameter has neither <name> nor <longflag>: named '%2' "
                               "from its flag")
                    .arg(tag, p.name),
                line);
        } else if (p.name.isEmpty()) {
            warn(warnings,
                QStringLiteral("a <%1> parameter has no name (no <name>, <longflag> or <flag>): "
                               "its value is given under the empty name")
                    .arg(tag),
                line);
        }
        if (p.minimum && p.maximum && *p.minimum > *p.maximum)
            warn(warnings,
                QStringLiteral("parameter '%1': minimum %2 is greater than maximum %3; no value "
                               "can be valid")
                    .arg(p.name)
                    .arg(*p.minimum)
                    .arg(*p.maximum),
                line);
        if (p.step && *p.step <= 0)
            warn(warnings,
                QStringLiteral("parameter '%1': step %2 is not positive").arg(p.name).arg(*p.step),
                line);
        if (!unknownElement && p.isEnumeration() && p.elements.isEmpty())
            warn(warnings,
                QStringLiteral("enumeration '%1' has no <element>: no value can be valid")
                    .arg(p.name),
                line);
        m_lines.insert(
            p.name, qMakePair(line, column)); // the latest wins: a duplicate points at itself
        g.parameters.push_back(std::move(p));
    }

    // <minimum>, <maximum> or <step>: returns false if the current element is none of them.
    bool readConstraint(Parameter &p, QStringList &warnings)
    {
        const auto c = m_xml.name();
        if (c == QLatin1String("minimum"))
            p.minimum = number(QStringLiteral("minimum"), p, warnings);
        else if (c == QLatin1String("maximum"))
            p.maximum = number(QStringLiteral("maximum"), p, warnings);
        else if (c == QLatin1String("step"))
            p.step = number(QStringLiteral("step"), p, warnings);
        else
            return false;
        return true;
    }

    void validate(const Description &d)
    {
        QSet<QString> names;
        for (const Group &g : d.groups) {
            for (const Parameter &p : g.parameters) {
                const auto where = m_lines.value(p.name);
                if (names.contains(p.name))
                    return void(fail(p.name.isEmpty()
                            ? QStringLiteral("more than one parameter has no name; values are "
                                             "given by name")
                            : QStringLiteral("duplicate parameter name '%1'").arg(p.name),
                        where.first, where.second));
                names.insert(p.name);
            }
        }
    }

    QXmlStreamReader m_xml;
    ParseResult m_result;
    bool m_failed = false;
    int m_depth = 0;
    QMultiHash<QString, QPair<qint64, qint64>> m_lines;
};

} // namespace

const Parameter *Description::parameter(const QString &name) const
{
    for (const Group &g : groups)
        for (const Parameter &p : g.parameters)
            if (p.name == name)
                return &p;
    return nullptr;
}

std::vector<const Parameter *> Description::parameters() const
{
    std::vector<const Parameter *> out;
    for (const Group &g : groups)
        for (const Parameter &p : g.parameters)
            out.push_back(&p);
    return out;
}

ParseResult parseDescription(const QByteArray &xml)
{
    // Modules run with --xml sometimes print a banner first: start at the document, at
    // whichever of "<?xml" and "<executable" comes first (a document without a declaration
    // may hold "<?xml" later, in a description's CDATA).
    const qsizetype declaration = xml.indexOf("<?xml"), root = xml.indexOf("<executable");
    const qsizetype start
        = declaration < 0 ? root : (root < 0 ? declaration : std::min(declaration, root));
    const QByteArray doc = start > 0 ? xml.mid(start) : xml;
    if (start < 0) {
        ParseResult r;
        r.error = QStringLiteral("no XML description found (neither <?xml nor <executable>)");
        r.line = 1;
        r.column = 1;
        return r;
    }
    ParseResult r;
    if (const qsizetype subset = internalSubset(doc); subset >= 0) {
        const QByteArrayView before = QByteArrayView(doc).first(subset);
        r.error = QStringLiteral(
            "a DTD with an internal subset (where entities are declared) is refused; "
            "module descriptions need none");
        r.line = before.count('\n') + 1;
        r.column = subset - before.lastIndexOf('\n'); // 1-based
    } else {
        r = Parser(doc).run();
    }
    if (!r.ok() && start > 0) { // report positions in the caller's text
        if (r.line == 1) // on the banner's last line: after what it printed there
            r.column += start - (xml.lastIndexOf('\n', start - 1) + 1);
        r.line += xml.left(start).count('\n');
    }
    return r;
}

} // namespace offload::sem
