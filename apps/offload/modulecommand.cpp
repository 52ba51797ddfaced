// offload module MODULE [--params FILE.json] [--NAME VALUE ...]: one module run, its return
// parameters printed (partial ones too, marked so).
#include "commands.h"
#include "commandsupport.h"

#include <offload/sem/parameterfile.h>

#include <QCoreApplication>
#include <QJsonArray>

#include <algorithm>
#include <cstdio>

using namespace offload;
using namespace cli;

int moduleCommand(const QStringList &argsIn)
{
    QStringList args = argsIn;
    if (args.isEmpty() || args[0].startsWith(QLatin1Char('-')))
        return usageError(QStringLiteral("module needs a module path or name first"));
    const QString path = args.takeFirst();
    // The tool's own options go to QCommandLineParser; every other --NAME [VALUE] is one of the
    // module's parameters, whose names only the module knows.
    QStringList ours;
    QList<QPair<QString, QString>> raw;
    for (int i = 0; i < args.size(); ++i) {
        const QString &a = args[i];
        const QString option = a.startsWith(QLatin1String("--"))
            ? a.mid(2).section(QLatin1Char('='), 0, 0)
            : QString();
        if (option == QLatin1String("json")) {
            ours << a;
            continue;
        }
        if (option == QLatin1String("timeout") || option == QLatin1String("params")
            || option == QLatin1String("on") || option == QLatin1String("ssh-config")) {
            ours << a;
            if (!a.contains(QLatin1Char('=')) && i + 1 < args.size())
                ours << args[++i];
            continue;
        }
        if (option.isEmpty() || a.size() < 3)
            return usageError(QStringLiteral("expected --NAME VALUE, got '%1'").arg(a));
        const QString name = a.mid(2);
        if (std::any_of(raw.cbegin(), raw.cend(),
                [&name](const auto &given) { return given.first == name; }))
            return usageError(QStringLiteral("--%1 is given more than once").arg(name));
        const bool hasValue = i + 1 < args.size() && !args[i + 1].startsWith(QLatin1String("--"));
        raw.append({ name, hasValue ? args[++i] : QString() });
    }
    CommandLine cl(QStringLiteral("module"));
    cl.addCommonOptions();
    const QCommandLineOption params(
        QStringLiteral("params"), QStringLiteral("JSON parameter file"), QStringLiteral("FILE"));
    cl.parser.addOption(params);
    CommonOptions common;
    if (const auto code = cl.parse(ours))
        return *code;
    if (const auto code = cl.readCommonOptions(common))
        return *code;
    if (cl.parser.values(params).size() > 1)
        return usageError(QStringLiteral("--params takes one JSON parameter file"));
    const QString paramsFile = cl.parser.value(params);
    Reporter rep(common.json);
    ModuleRunner modules(1);
    int code = 0;
    const std::optional<Module> module = describeOrReport(modules, path, rep, code);
    if (!module)
        return code;
    if (module->program.isEmpty())
        return usageError(QStringLiteral("%1 is a description, not a module to run").arg(path));
    // The parameter file first, then the command line's --NAME VALUE over it.
    QVariantMap values;
    if (!paramsFile.isEmpty()) {
        const sem::ParameterFile file = sem::readParameterFile(paramsFile);
        if (!file.ok())
            return usageError(file.error);
        values = file.values;
    }
    for (const auto &[name, value] : raw) {
        const sem::Parameter *p = module->description.parameter(name);
        if (p && p->tag == QLatin1String("boolean") && value.isNull())
            values.insert(name, true); // "--verbose" alone
        else if (value.isNull())
            return usageError(QStringLiteral("--%1 needs a value").arg(name));
        else
            values.insert(name, value); // validated and typed by the command-line builder
    }
    ModuleRunOptions options;
    options.timeout = common.timeout;
    options.launcher = common.launcher;
    const auto run = modules.run(qApp, *module, values, options);
    return waitForRun(rep, run, [&](const TaskHandle<ProgramResult> &t) {
        const std::optional<ProgramResult> r = anyResult(t);
        const sem::ReturnValues rv
            = r ? ModuleRunner::returnValues(*module, *r) : sem::ReturnValues {};
        const bool partial = t.state() != TaskState::Finished;
        if (rep.json()) {
            QJsonObject o = finishedEvent(t);
            QJsonObject values;
            for (auto it = rv.values.cbegin(); it != rv.values.cend(); ++it)
                values.insert(it.key(), QJsonValue::fromVariant(it.value())); // lists become arrays
            o.insert("result",
                QJsonObject { { "returnParameters", values }, { "partial", partial },
                    { "warnings", QJsonArray::fromStringList(rv.warnings) } });
            return rep.event(o);
        }
        if (!rv.values.isEmpty() && partial)
            std::printf("return parameters (partial: the module did not finish):\n");
        for (auto it = rv.values.cbegin(); it != rv.values.cend(); ++it) {
            const QVariant &v = it.value();
            QString text = v.toString();
            if (v.typeId() == QMetaType::QVariantList) {
                QStringList items;
                for (const QVariant &item : v.toList())
                    items << item.toString();
                text = items.join(QLatin1Char(','));
            }
            std::printf("%s = %s\n", qPrintable(it.key()), qPrintable(text));
        }
        for (const QString &w : rv.warnings)
            rep.message(QStringLiteral("warning: %1").arg(w));
        printFailure(rep, t);
    });
}
