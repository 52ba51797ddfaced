#include <offload/sem/semdescription.h>

#include "semrules_p.h"

#include <QHash>
#include <QSet>
#include <QXmlStreamReader>

#include <algorithm>
#include <cmath>

namespace offload::sem {

namespace {

using namespace detail;

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
        Parameter p;
        p.tag = tag;
        p.unknownElement = unknownElement;
        p.advanced = g.advanced;
        const qint64 line = m_xml.lineNumber(), column = m_xml.columnNumber();
        if (!unknownElement) {
            readAttributes(p, tagRules().value(tag), d.warnings);
            if (m_failed)
                return;
        }
        QString name;
        while (nextStartElement()) {
            readParameterChild(d, p, name);
            if (m_failed)
                return;
        }
        nameParameter(p, name, line, d.warnings);
        checkParameter(p, line, d.warnings);
        m_lines.insert(
            p.name, qMakePair(line, column)); // the latest wins: a duplicate points at itself
        g.parameters.push_back(std::move(p));
    }

    // One element inside a parameter (the reader is on its start); name: its <name>, if any.
    void readParameterChild(Description &d, Parameter &p, QString &name)
    {
        QStringList &warnings = d.warnings;
        const auto n = m_xml.name();
        const qint64 l = m_xml.lineNumber();
        if (n == QLatin1String("name")) {
            name = text();
            if (!name.isEmpty() && !isIdentifier(name)) // an empty one counts as none
                warn(warnings,
                    QStringLiteral("<name> '%1' is not an identifier (letters, digits and "
                                   "underscores, not starting with a digit): Slicer's "
                                   "parser refuses the description; Offload reads it")
                        .arg(name),
                    l);
        } else if (n == QLatin1String("flag") || n == QLatin1String("longflag")) {
            readFlag(p, n == QLatin1String("longflag"), warnings);
        } else if (n == QLatin1String("label")) {
            p.label = text();
        } else if (n == QLatin1String("description")) {
            p.description = text();
        } else if (n == QLatin1String("default")) {
            p.defaultValue = text();
        } else if (n == QLatin1String("channel")) {
            p.channel = text();
            if (!p.channel.isEmpty() && p.channel != QLatin1String("input")
                && p.channel != QLatin1String("output"))
                warn(warnings,
                    QStringLiteral("<channel> '%1' is neither input nor output (compared "
                                   "case-sensitively, as Slicer does)")
                        .arg(p.channel),
                    l);
        } else if (n == QLatin1String("element")) {
            p.elements << text();
        } else if (n == QLatin1String("index")) {
            readIndex(p);
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
    }

    // <flag> or <longflag>, with its aliases; a flag beside an <index> fails the description.
    void readFlag(Parameter &p, bool longflag, QStringList &warnings)
    {
        const qint64 l = m_xml.lineNumber(), c = m_xml.columnNumber();
        const QXmlStreamAttributes a = m_xml.attributes();
        const QStringList alias = aliases(a.value(QLatin1String("alias")));
        const QStringList deprecated = aliases(a.value(QLatin1String("deprecatedalias")));
        const QString flag = stripDashes(text());
        if (longflag) {
            p.longflagAliases = alias;
            p.deprecatedLongflagAliases = deprecated;
            p.longflag = flag;
            if (!isIdentifier(flag))
                warn(warnings,
                    QStringLiteral("<longflag> '%1' is not an identifier (letters, digits "
                                   "and underscores, not starting with a digit): Slicer's "
                                   "parser refuses the description; Offload passes it as "
                                   "--%1")
                        .arg(flag),
                    l);
        } else {
            p.flagAliases = alias;
            p.deprecatedFlagAliases = deprecated;
            p.flag = flag;
            if (flag.size() > 1)
                warn(warnings,
                    QStringLiteral("<flag> '%1' has more than one character: Slicer's parser "
                                   "refuses the description; Offload passes it as -%1")
                        .arg(flag),
                    l);
        }
        if (p.index && !flag.isEmpty())
            fail(QStringLiteral("<%1> cannot be given to a parameter with an <index>")
                     .arg(longflag ? QStringLiteral("longflag") : QStringLiteral("flag")),
                l, c);
    }

    // <index>: a non-negative integer, on a parameter without a flag.
    void readIndex(Parameter &p)
    {
        const qint64 l = m_xml.lineNumber(), c = m_xml.columnNumber();
        if (!p.flag.isEmpty() || !p.longflag.isEmpty())
            return void(fail(QStringLiteral("<index> cannot be given to a parameter with "
                                            "a <flag> or <longflag>"),
                l, c));
        bool ok = false;
        const int i = text().toInt(&ok);
        if (!ok || i < 0)
            return void(fail(QStringLiteral("<index> is not a non-negative integer"), l, c));
        p.index = i;
    }

    // As Slicer: <name>, else the longflag. Then, as Slicer does not, the flag.
    void nameParameter(Parameter &p, const QString &name, qint64 line, QStringList &warnings)
    {
        p.name = !name.isEmpty() ? name : p.longflag;
        if (p.unknownElement)
            warn(warnings,
                QStringLiteral("<%1> is outside the schema (Slicer's parser refuses it); kept as "
                               "parameter '%2', its value passed to the module as text")
                    .arg(p.tag, p.name),
                line);
        if (p.name.isEmpty() && !p.flag.isEmpty()) {
            p.name = p.flag;
            warn(warnings,
                QStringLiteral("a <%1> parameter has neither <name> nor <longflag>: named '%2' "
                               "from its flag")
                    .arg(p.tag, p.name),
                line);
        } else if (p.name.isEmpty()) {
            warn(warnings,
                QStringLiteral("a <%1> parameter has no name (no <name>, <longflag> or <flag>): "
                               "its value is given under the empty name")
                    .arg(p.tag),
                line);
        }
    }

    // What makes every value invalid is said, not refused.
    void checkParameter(const Parameter &p, qint64 line, QStringList &warnings)
    {
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
        if (!p.unknownElement && p.isEnumeration() && p.elements.isEmpty())
            warn(warnings,
                QStringLiteral("enumeration '%1' has no <element>: no value can be valid")
                    .arg(p.name),
                line);
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
