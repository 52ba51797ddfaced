// offload describe MODULE_OR_XML [--json]: a module's parameters, as text or JSON.
#include "commands.h"
#include "commandsupport.h"

#include <QJsonArray>

#include <cstdio>

using namespace offload;
using namespace cli;

namespace {

QJsonObject parameterJson(const sem::Parameter &p)
{
    QJsonObject o { { "type", p.tag }, { "name", p.name }, { "label", p.label },
        { "description", p.description } };
    const auto put = [&o](const char *key, const QString &v) {
        if (!v.isEmpty())
            o.insert(key, v);
    };
    put("flag", p.flag);
    put("longflag", p.longflag);
    put("default", p.defaultValue);
    put("channel", p.channel);
    put("coordinateSystem", p.coordinateSystem);
    put("reference", p.reference);
    if (p.index)
        o.insert("index", *p.index);
    if (p.minimum)
        o.insert("minimum", *p.minimum);
    if (p.maximum)
        o.insert("maximum", *p.maximum);
    if (p.step)
        o.insert("step", *p.step);
    if (!p.elements.isEmpty())
        o.insert("elements", QJsonArray::fromStringList(p.elements));
    if (!p.fileExtensions.isEmpty())
        o.insert("fileExtensions", QJsonArray::fromStringList(p.fileExtensions));
    if (p.multiple)
        o.insert("multiple", true);
    if (p.hidden)
        o.insert("hidden", true);
    if (p.aggregate)
        o.insert("aggregate", true);
    if (p.unknownElement)
        o.insert("unknownElement", true); // outside the schema: its value is passed as text
    if (p.isReturnParameter())
        o.insert("returnParameter", true);
    return o;
}

QJsonObject moduleJson(const Module &m)
{
    const sem::Description &d = m.description;
    QJsonObject o { { "path", m.path }, { "source", m.descriptionSource }, { "title", d.title },
        { "category", d.category }, { "description", d.description }, { "version", d.version },
        { "contributor", d.contributor }, { "license", d.license },
        { "documentationUrl", d.documentationUrl } };
    QJsonArray groups;
    for (const sem::Group &g : d.groups) {
        QJsonArray params;
        for (const sem::Parameter &p : g.parameters)
            params.append(parameterJson(p));
        groups.append(QJsonObject { { "label", g.label }, { "description", g.description },
            { "advanced", g.advanced }, { "parameters", params } });
    }
    o.insert("groups", groups);
    o.insert("warnings", QJsonArray::fromStringList(d.warnings));
    return o;
}

void printModule(const Module &m)
{
    const sem::Description &d = m.description;
    std::printf("%s%s\n", qPrintable(d.title),
        d.version.isEmpty() ? "" : qPrintable(QStringLiteral(" (version %1)").arg(d.version)));
    if (!d.category.isEmpty())
        std::printf("category: %s\n", qPrintable(d.category));
    std::printf("from: %s\n", qPrintable(m.descriptionSource));
    if (!d.description.isEmpty())
        std::printf("\n%s\n", qPrintable(d.description.simplified()));
    for (const sem::Group &g : d.groups) {
        std::printf("\n%s%s:\n", qPrintable(g.label), g.advanced ? " (advanced)" : "");
        for (const sem::Parameter &p : g.parameters) {
            const QString how = p.isReturnParameter() ? QStringLiteral("(returns) %1").arg(p.name)
                : p.index ? QStringLiteral("#%1 %2").arg(*p.index).arg(p.name)
                          : QStringLiteral("--%1").arg(p.name);
            QString detail = p.tag;
            if (!p.defaultValue.isEmpty())
                detail += QStringLiteral(", default %1").arg(p.defaultValue);
            if (p.minimum || p.maximum)
                detail += QStringLiteral(", %1..%2")
                              .arg(p.minimum ? QString::number(*p.minimum) : QString(),
                                  p.maximum ? QString::number(*p.maximum) : QString());
            if (!p.elements.isEmpty())
                detail += QStringLiteral(", one of %1").arg(p.elements.join(QLatin1Char('|')));
            if (p.channel == QLatin1String("output") && !p.isReturnParameter())
                detail += QStringLiteral(", output");
            std::printf(
                "  %-22s %s (%s)\n", qPrintable(how), qPrintable(p.label), qPrintable(detail));
        }
    }
    for (const QString &w : d.warnings)
        std::printf("warning: %s\n", qPrintable(w));
}

} // namespace

int describeCommand(const QStringList &args)
{
    CommandLine cl(QStringLiteral("describe"));
    cl.parser.addOption(cl.json);
    if (const auto code = cl.parse(args))
        return *code;
    const QStringList paths = cl.parser.positionalArguments();
    if (paths.size() != 1)
        return usageError(QStringLiteral("describe takes one module or .xml file"));
    const bool json = cl.parser.isSet(cl.json);
    Reporter rep(json);
    ModuleRunner modules;
    int code = 0;
    const std::optional<Module> m = describeOrReport(modules, paths[0], rep, code);
    if (!m)
        return code;
    if (json)
        rep.event(QJsonObject { { "event", "description" }, { "module", moduleJson(*m) } });
    else
        printModule(*m);
    return 0;
}
