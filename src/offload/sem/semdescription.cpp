#include <offload/sem/semdescription.h>

#include <QSet>
#include <QXmlStreamReader>

namespace offload::sem {

namespace {

const QSet<QString> &parameterTags()
{
    static const QSet<QString> tags = [] {
        QSet<QString> t;
        for (const char *base : { "integer", "float", "double", "boolean", "string" }) {
            t << QLatin1String(base) << QLatin1String(base) + QLatin1String("-vector");
        }
        for (const char *e : { "integer-enumeration", "float-enumeration", "double-enumeration",
                 "string-enumeration", "point", "point-vector", "pointfile", "region",
                 "region-vector", "file", "directory", "image", "geometry", "transform", "table",
                 "measurement" })
            t << QLatin1String(e);
        return t;
    }();
    return tags;
}

QString stripDashes(QString flag)
{
    flag = flag.trimmed();
    while (flag.startsWith(QLatin1Char('-')))
        flag.remove(0, 1);
    return flag;
}

QStringList aliases(const QXmlStreamAttributes &attrs)
{
    QStringList out;
    for (const char *key : { "alias", "deprecatedalias" }) {
        for (const QString &a :
            attrs.value(QLatin1String(key)).toString().split(QLatin1Char(','), Qt::SkipEmptyParts))
            out << stripDashes(a);
    }
    return out;
}

bool isTrue(QStringView v)
{
    return v.trimmed().compare(QLatin1String("true"), Qt::CaseInsensitive) == 0;
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
        while (!m_xml.atEnd() && !m_failed) {
            if (next() == QXmlStreamReader::StartElement) {
                if (m_xml.name() != QLatin1String("executable"))
                    return fail(QStringLiteral("the root element is <%1>, not <executable>")
                                    .arg(m_xml.name()));
                readExecutable(d);
                break;
            }
        }
        if (!m_failed && m_xml.hasError())
            return fail(m_xml.errorString());
        if (m_failed)
            return m_result;
        if (d.groups.empty() && d.title.isEmpty())
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

    // The current element's text, its children's included, trimmed.
    QString text()
    {
        QString out;
        walkElement(&out);
        return out.trimmed();
    }

    void unknown(QStringList &warnings)
    {
        warnings << QStringLiteral("line %1: unknown element <%2> ignored")
                        .arg(m_xml.lineNumber())
                        .arg(m_xml.name());
        skipElement();
    }

    void readExecutable(Description &d)
    {
        while (nextStartElement()) {
            const auto n = m_xml.name();
            if (n == QLatin1String("title"))
                d.title = text();
            else if (n == QLatin1String("category"))
                d.category = text();
            else if (n == QLatin1String("description"))
                d.description = text();
            else if (n == QLatin1String("version"))
                d.version = text();
            else if (n == QLatin1String("documentation-url"))
                d.documentationUrl = text();
            else if (n == QLatin1String("license"))
                d.license = text();
            else if (n == QLatin1String("contributor"))
                d.contributor = text();
            else if (n == QLatin1String("acknowledgements"))
                d.acknowledgements = text();
            else if (n == QLatin1String("parameters"))
                readGroup(d);
            else
                unknown(d.warnings);
            if (m_failed)
                return;
        }
    }

    void readGroup(Description &d)
    {
        Group g;
        g.advanced = isTrue(m_xml.attributes().value(QLatin1String("advanced")));
        while (nextStartElement()) {
            const QString n = m_xml.name().toString();
            if (n == QLatin1String("label"))
                g.label = text();
            else if (n == QLatin1String("description"))
                g.description = text();
            else if (parameterTags().contains(n))
                readParameter(g, n, d.warnings);
            else
                unknown(d.warnings);
            if (m_failed)
                return;
        }
        d.groups.push_back(std::move(g));
    }

    std::optional<double> number(const QString &what, const QString &param)
    {
        const qint64 line = m_xml.lineNumber(), column = m_xml.columnNumber();
        const QString t = text();
        bool ok = false;
        const double v = t.toDouble(&ok);
        if (!ok) {
            fail(QStringLiteral("parameter '%1': <%2> is not a number: '%3'").arg(param, what, t),
                line, column);
            return std::nullopt;
        }
        return v;
    }

    void readParameter(Group &g, const QString &tag, QStringList &warnings)
    {
        Parameter p;
        p.tag = tag;
        p.advanced = g.advanced;
        const qint64 line = m_xml.lineNumber(), column = m_xml.columnNumber();
        const QXmlStreamAttributes a = m_xml.attributes();
        p.multiple = isTrue(a.value(QLatin1String("multiple")));
        p.hidden = isTrue(a.value(QLatin1String("hidden")));
        for (const QString &e : a.value(QLatin1String("fileExtensions"))
                                    .toString()
                                    .split(QLatin1Char(','), Qt::SkipEmptyParts))
            p.fileExtensions << e.trimmed();
        p.coordinateSystem = a.value(QLatin1String("coordinateSystem")).toString();
        p.type = a.value(QLatin1String("type")).toString();
        p.reference = a.value(QLatin1String("reference")).toString();
        while (nextStartElement()) {
            const auto n = m_xml.name();
            if (n == QLatin1String("name"))
                p.name = text();
            else if (n == QLatin1String("flag")) {
                p.flagAliases = aliases(m_xml.attributes());
                p.flag = stripDashes(text());
            } else if (n == QLatin1String("longflag")) {
                p.longflagAliases = aliases(m_xml.attributes());
                p.longflag = stripDashes(text());
            } else if (n == QLatin1String("label"))
                p.label = text();
            else if (n == QLatin1String("description"))
                p.description = text();
            else if (n == QLatin1String("default"))
                p.defaultValue = text();
            else if (n == QLatin1String("channel"))
                p.channel = text().toLower();
            else if (n == QLatin1String("element"))
                p.elements << text();
            else if (n == QLatin1String("index")) {
                const qint64 l = m_xml.lineNumber(), c = m_xml.columnNumber();
                bool ok = false;
                const int i = text().toInt(&ok);
                if (!ok || i < 0)
                    return void(
                        fail(QStringLiteral("parameter '%1': <index> is not a non-negative integer")
                                 .arg(p.name),
                            l, c));
                p.index = i;
            } else if (n == QLatin1String("constraints")) {
                while (nextStartElement()) {
                    const auto c = m_xml.name();
                    if (c == QLatin1String("minimum"))
                        p.minimum = number(QStringLiteral("minimum"), p.name);
                    else if (c == QLatin1String("maximum"))
                        p.maximum = number(QStringLiteral("maximum"), p.name);
                    else if (c == QLatin1String("step"))
                        p.step = number(QStringLiteral("step"), p.name);
                    else
                        unknown(warnings);
                    if (m_failed)
                        return;
                }
            } else {
                unknown(warnings);
            }
            if (m_failed)
                return;
        }
        if (p.name.trimmed().isEmpty())
            return void(
                fail(QStringLiteral("a <%1> parameter has no <name>").arg(tag), line, column));
        if (p.minimum && p.maximum && *p.minimum > *p.maximum)
            return void(fail(QStringLiteral("parameter '%1': minimum %2 is greater than maximum %3")
                                 .arg(p.name)
                                 .arg(*p.minimum)
                                 .arg(*p.maximum),
                line, column));
        if (p.step && *p.step <= 0)
            return void(fail(
                QStringLiteral("parameter '%1': step must be positive").arg(p.name), line, column));
        if (p.isEnumeration() && p.elements.isEmpty())
            return void(fail(
                QStringLiteral("enumeration '%1' has no <element>").arg(p.name), line, column));
        m_lines.insert(
            p.name, qMakePair(line, column)); // the latest wins: a duplicate points at itself
        g.parameters.push_back(std::move(p));
    }

    void validate(const Description &d)
    {
        QSet<QString> names;
        for (const Group &g : d.groups) {
            for (const Parameter &p : g.parameters) {
                const auto where = m_lines.value(p.name);
                if (names.contains(p.name))
                    return void(fail(QStringLiteral("duplicate parameter name '%1'").arg(p.name),
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
    // Modules run with --xml sometimes print a banner first: start at the document.
    qsizetype start = xml.indexOf("<?xml");
    if (start < 0)
        start = xml.indexOf("<executable");
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
    if (!r.ok() && start > 0) // report positions in the caller's text
        r.line += xml.left(start).count('\n');
    return r;
}

} // namespace offload::sem
