#include <offload/sem/commandline.h>

#include <QLocale>

#include <algorithm>
#include <cmath>
#include <map>

namespace offload::sem {

namespace {

QString baseType(const Parameter &p)
{
    QString t = p.tag;
    t.remove(QLatin1String("-vector")).remove(QLatin1String("-enumeration"));
    return t;
}

// A point is "x,y,z", a region "x,y,z,rx,ry,rz" (centre and radius): each is one item.
int coordinatesPerItem(const Parameter &p)
{
    if (p.unknownElement)
        return 0;
    if (p.tag.startsWith(QLatin1String("point")) && p.tag != QLatin1String("pointfile"))
        return 3;
    if (p.tag.startsWith(QLatin1String("region")))
        return 6;
    return 0;
}

// The items of a value: a list's elements, or a text split at ',' (at ';' for points and
// regions, whose items hold commas themselves: "1,2,3;4,5,6" is two points).
bool isList(const QVariant &v)
{
    return v.typeId() == QMetaType::QVariantList || v.typeId() == QMetaType::QStringList;
}

bool isObject(const QVariant &v)
{
    return v.typeId() == QMetaType::QVariantMap || v.typeId() == QMetaType::QVariantHash
        || v.typeId() == QMetaType::QJsonObject;
}

// A point's or region's coordinates may come as a list of their own ([x, y, z]).
QStringList asList(const Parameter &p, const QVariant &v)
{
    if (isList(v)) {
        QStringList out;
        for (const QVariant &e : v.toList()) {
            if (isList(e)) {
                QStringList coordinates;
                for (const QVariant &c : e.toList())
                    coordinates << c.toString();
                out << coordinates.join(QLatin1Char(','));
            } else {
                out << e.toString();
            }
        }
        return out;
    }
    return v.toString().split(QLatin1Char(coordinatesPerItem(p) ? ';' : ','), Qt::SkipEmptyParts);
}

// A point's or region's coordinates: finite numbers, the right count; passed without blanks.
QString normaliseCoordinates(const Parameter &p, const QString &value, QString &error)
{
    const int count = coordinatesPerItem(p);
    QStringList parts = value.split(QLatin1Char(','));
    bool ok = parts.size() == count;
    for (QString &part : parts) {
        part = part.trimmed();
        bool isNumber = false;
        const double x = part.toDouble(&isNumber);
        ok = ok && isNumber && std::isfinite(x);
    }
    if (!ok) {
        error = QStringLiteral(
            "parameter '%1' expects %2 finite numbers separated by commas (%3), got '%4'")
                    .arg(p.name)
                    .arg(count)
                    .arg(count == 3 ? QStringLiteral("x,y,z")
                                    : QStringLiteral("x,y,z,rx,ry,rz: centre and radius"),
                        value);
        return {};
    }
    return parts.join(QLatin1Char(','));
}

// The one place values are checked: validates one scalar value of p's base type and returns
// it as the module is to receive it. Numbers and enumeration elements are compared without
// surrounding blanks and passed without them (so what was validated is what the module
// reads); other strings (file names, text) are passed exactly as given. error is set, and the
// value is to be dropped, when the value is invalid.
//
// Floating-point values must be finite: NaN compares false with every bound (it would pass
// any constraint) and Slicer's modules cannot take it either (TCLAP reads numbers with
// operator>>, which does not parse "nan" or "inf"; Slicer's GUI offers only finite numbers).
QString normalise(const Parameter &p, const QString &value, QString &error)
{
    if (p.unknownElement)
        return value; // outside the schema: passed as text
    if (coordinatesPerItem(p))
        return normaliseCoordinates(p, value, error);
    const QString type = baseType(p);
    const bool isInteger = type == QLatin1String("integer");
    const bool isFloat = type == QLatin1String("float") || type == QLatin1String("double");
    if (!isInteger && !isFloat && !p.isEnumeration())
        return value;
    const QString v = value.trimmed();
    if (p.isEnumeration() && !p.elements.contains(v)) {
        error = QStringLiteral("parameter '%1': '%2' is not one of %3")
                    .arg(p.name, value, p.elements.join(QStringLiteral(", ")));
        return {};
    }
    if (!isInteger && !isFloat)
        return v;
    // long double holds every 64-bit integer exactly: an integer is compared with its bounds
    // without rounding (as a double, 2^53 + 1 would pass a maximum of 2^53).
    bool ok = true;
    long double number = 0;
    if (isInteger)
        number = static_cast<long double>(v.toLongLong(&ok));
    else
        number = v.toDouble(&ok);
    if (!ok) {
        error
            = QStringLiteral("parameter '%1' expects %2 %3, got '%4'")
                  .arg(p.name, isInteger ? QStringLiteral("an") : QStringLiteral("a"), type, value);
        return {};
    }
    if (!std::isfinite(number)) {
        error = QStringLiteral("parameter '%1' expects a finite %2, got '%3'")
                    .arg(p.name, type, value);
        return {};
    }
    const auto bound
        = [](double b) { return QString::number(b, 'g', QLocale::FloatingPointShortest); };
    if (p.minimum && number < static_cast<long double>(*p.minimum)) {
        error = QStringLiteral("parameter '%1': %2 is below the minimum %3")
                    .arg(p.name, v, bound(*p.minimum));
        return {};
    }
    if (p.maximum && number > static_cast<long double>(*p.maximum)) {
        error = QStringLiteral("parameter '%1': %2 is above the maximum %3")
                    .arg(p.name, v, bound(*p.maximum));
        return {};
    }
    return v;
}

QString flagOf(const Parameter &p)
{
    if (!p.longflag.isEmpty())
        return QStringLiteral("--") + p.longflag;
    if (!p.flag.isEmpty())
        return QStringLiteral("-") + p.flag;
    return {};
}

bool isEmptyValue(const QVariant &v)
{
    if (v.isNull())
        return true;
    if (isList(v))
        return v.toList().isEmpty();
    return v.typeId() != QMetaType::Bool && v.toString().isEmpty();
}

// Why a value's shape cannot go on a command line as it is ("" if it can). A value that has no
// text (an object, say) would otherwise read as empty and the parameter be left out unseen.
QString shapeError(const Parameter &p, const QVariant &value, bool several)
{
    const QString takes
        = several ? QStringLiteral("a list of values") : QStringLiteral("one value");
    if (isObject(value))
        return QStringLiteral("parameter '%1' takes %2, got an object").arg(p.name, takes);
    if (!isList(value)) {
        if (value.isNull() || value.typeId() == QMetaType::Bool || value.canConvert<QString>())
            return {};
        return QStringLiteral("parameter '%1' takes %2, got a %3 that has no text form")
            .arg(p.name, takes, QString::fromLatin1(value.typeName()));
    }
    const bool coordinates = coordinatesPerItem(p) > 0;
    const QVariantList list = value.toList();
    // An element outside the schema takes its list as text, joined with commas.
    if (!several && !coordinates && !p.unknownElement && list.size() > 1)
        return QStringLiteral("parameter '%1' takes one value, got a list of %2")
            .arg(p.name)
            .arg(list.size());
    for (const QVariant &e : list) {
        if (isObject(e))
            return QStringLiteral("parameter '%1' takes %2, got an object in the list")
                .arg(p.name, takes);
        if (isList(e) && !(coordinates && several))
            return QStringLiteral("parameter '%1' takes %2, got a list inside the list")
                .arg(p.name, takes);
        if (isList(e)) {
            for (const QVariant &c : e.toList())
                if (isList(c) || isObject(c))
                    return QStringLiteral("parameter '%1': a point's coordinates are numbers, "
                                          "got a list or an object among them")
                        .arg(p.name);
        }
    }
    return {};
}

// The one check of a value, shared by buildCommandLine and validateValue: returns the error
// ("" when valid) and, in items, the values as the module is to receive them (a boolean gives
// "true" or "false"; an empty value gives no item: the parameter is left out).
QString check(const Parameter &p, const QVariant &value, QStringList &items)
{
    items.clear();
    const bool several = p.isVector() || p.multiple;
    if (const QString error = shapeError(p, value, several); !error.isEmpty())
        return error;
    if (isEmptyValue(value)) {
        if (p.index)
            return QStringLiteral("missing value for the required parameter '%1' (index %2)")
                .arg(p.name)
                .arg(*p.index);
        return {};
    }
    if (p.tag == QLatin1String("boolean")) {
        const QString s = value.toString().trimmed().toLower();
        if (value.typeId() != QMetaType::Bool && s != QLatin1String("true")
            && s != QLatin1String("false"))
            return QStringLiteral("parameter '%1' expects true or false, got '%2'")
                .arg(p.name, value.toString());
        const bool on
            = value.typeId() == QMetaType::Bool ? value.toBool() : s == QLatin1String("true");
        items << (on ? QStringLiteral("true") : QStringLiteral("false"));
        return {};
    }
    items = several ? asList(p, value) : QStringList { value.toString() };
    if (!several && isList(value)) // one point as [x, y, z], or a list of one value
        items = QStringList { asList(p, value).join(QLatin1Char(',')) };
    for (QString &item : items) {
        // argv holds C strings: a NUL would end the argument there, and the module would get
        // a value nobody gave.
        if (item.contains(QChar(0))) {
            items.clear();
            return QStringLiteral("parameter '%1': a value cannot hold a NUL character (a "
                                  "command-line argument ends there)")
                .arg(p.name);
        }
        QString error;
        item = normalise(p, item, error);
        if (!error.isEmpty()) {
            items.clear();
            return error;
        }
    }
    return {};
}

} // namespace

QString validateValue(const Parameter &parameter, const QVariant &value)
{
    QStringList items;
    return check(parameter, value, items);
}

CommandLine buildCommandLine(
    const Description &description, const QVariantMap &values, const QString &returnParameterFile)
{
    CommandLine out;
    for (auto it = values.begin(); it != values.end(); ++it) {
        if (!description.parameter(it.key()))
            return { {}, QStringLiteral("unknown parameter '%1'").arg(it.key()) };
    }
    std::map<int, QString> positional;
    bool hasReturn = false;
    for (const Parameter *p : description.parameters()) {
        if (p->isReturnParameter()) {
            hasReturn = true;
            continue;
        }
        const auto given = values.constFind(p->name);
        const QVariant value = given != values.cend() ? *given : QVariant(p->defaultValue);
        QStringList items;
        if (const QString error = check(*p, value, items); !error.isEmpty())
            return { {}, error };
        if (items.isEmpty())
            continue;
        if (p->tag == QLatin1String("boolean")) {
            if (items.first() == QLatin1String("true") && !flagOf(*p).isEmpty())
                out.arguments << flagOf(*p);
            continue;
        }
        if (p->index) {
            positional[*p->index] = items.join(QLatin1Char(','));
            continue;
        }
        const QString flag = flagOf(*p);
        if (flag.isEmpty())
            continue; // an output without flag or index that is not a return parameter: nothing to
                      // pass
        if (p->multiple && !p->aggregate) {
            for (const QString &item : items)
                out.arguments << flag << item;
        } else {
            out.arguments << flag << items.join(QLatin1Char(','));
        }
    }
    if (hasReturn && !returnParameterFile.isEmpty())
        out.arguments << QStringLiteral("--returnparameterfile") << returnParameterFile;
    // A positional value starting with '-' would be read as an option: "--" ends the options
    // (TCLAP, which Slicer's modules use, and Python's argparse both honour it).
    if (std::any_of(positional.cbegin(), positional.cend(),
            [](const auto &e) { return e.second.startsWith(QLatin1Char('-')); }))
        out.arguments << QStringLiteral("--");
    for (const auto &[index, value] : positional)
        out.arguments << value;
    return out;
}

ReturnValues parseReturnParameters(const QByteArray &text, const Description &description)
{
    ReturnValues out;
    int lineNumber = 0;
    for (const QByteArray &raw : text.split('\n')) {
        ++lineNumber;
        const QByteArray line = raw.trimmed();
        if (line.isEmpty())
            continue;
        const qsizetype eq = line.indexOf('=');
        if (eq < 0) {
            out.warnings << QStringLiteral("line %1: no '=' in '%2'")
                                .arg(lineNumber)
                                .arg(QString::fromUtf8(line.left(80)));
            continue;
        }
        const QString name = QString::fromUtf8(line.left(eq).trimmed());
        const QString value = QString::fromUtf8(line.mid(eq + 1).trimmed());
        const Parameter *p = description.parameter(name);
        if (!p) {
            out.warnings << QStringLiteral("line %1: unknown return parameter '%2' ignored")
                                .arg(lineNumber)
                                .arg(name);
            continue;
        }
        const QString type = baseType(*p);
        if (value.isEmpty()) {
            out.values.insert(name, QString());
            continue;
        }
        QVariantList typed;
        const QStringList items = p->isVector() ? value.split(QLatin1Char(','), Qt::SkipEmptyParts)
                                                : QStringList { value };
        bool bad = false;
        for (const QString &item : items) {
            bool ok = true;
            if (type == QLatin1String("integer"))
                typed << item.trimmed().toLongLong(&ok);
            else if (type == QLatin1String("float") || type == QLatin1String("double"))
                typed << item.trimmed().toDouble(&ok);
            else if (type == QLatin1String("boolean"))
                typed << (item.trimmed().compare(QLatin1String("true"), Qt::CaseInsensitive) == 0);
            else
                typed << item.trimmed();
            bad |= !ok;
        }
        if (bad) {
            out.warnings << QStringLiteral("line %1: '%2' is not a valid %3 for '%4'; kept as text")
                                .arg(lineNumber)
                                .arg(value, type, name);
            out.values.insert(name, value);
            continue;
        }
        out.values.insert(name, p->isVector() ? QVariant(typed) : typed.value(0));
    }
    return out;
}

} // namespace offload::sem
