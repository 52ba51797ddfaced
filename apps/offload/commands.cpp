// The subcommands: each builds its tasks, shows them through a Reporter, waits in the event loop.
#include "commands.h"
#include "reporter.h"

#include <offload/modules/modulerunner.h>
#include <offload/sem/parameterfile.h>

#include "offload/core/regularfile_p.h"

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <vector>

#include <unistd.h>

using namespace offload;

namespace {

int usageError(const QString &why)
{
    std::fprintf(stderr, "offload: %s (see offload --help)\n", qPrintable(why));
    return 2;
}

// A timeout in seconds: finite, from 0 (none) to 1e7; a positive one shorter than a
// millisecond is rounded up to one, never down to "none".
std::optional<std::chrono::milliseconds> parseSeconds(const QString &text)
{
    bool ok = false;
    const double s = text.toDouble(&ok);
    if (!ok || !std::isfinite(s) || s < 0 || s > 1e7)
        return std::nullopt;
    return std::chrono::milliseconds(qint64(std::ceil(s * 1000)));
}

// Splits a batch line as a POSIX shell would split words (no expansion, no operators):
// whitespace separates, 'single quotes' are literal, "double quotes" and bare text honour a
// backslash escape. Bytes in, bytes out: a word need not be UTF-8. nullopt on an unterminated
// quote or a trailing backslash.
std::optional<QByteArrayList> splitWords(const QByteArray &line)
{
    QByteArrayList words;
    QByteArray word;
    bool inWord = false;
    for (qsizetype i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (c == '\'') {
            const qsizetype end = line.indexOf('\'', i + 1);
            if (end < 0)
                return std::nullopt;
            word += line.mid(i + 1, end - i - 1);
            inWord = true;
            i = end;
        } else if (c == '"') {
            inWord = true;
            for (++i;; ++i) {
                if (i >= line.size())
                    return std::nullopt;
                if (line[i] == '"')
                    break;
                if (line[i] == '\\' && i + 1 < line.size() && line[i + 1] != '\0'
                    && std::strchr("\"\\$`", line[i + 1]))
                    ++i;
                word += line[i];
            }
        } else if (c == '\\') {
            if (++i >= line.size())
                return std::nullopt;
            word += line[i];
            inWord = true;
        } else if (c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f') {
            if (inWord)
                words << word;
            word.clear();
            inWord = false;
        } else {
            word += c;
            inWord = true;
        }
    }
    if (inWord)
        words << word;
    return words;
}

const ProgramResult *resultOf(const TaskHandle<ProgramResult> &t)
{
    if (t.state() == TaskState::Finished)
        return &t.result();
    return nullptr;
}

// The ProgramResult of a run, finished or failed (then from Error::partial), if there is one.
std::optional<ProgramResult> anyResult(const TaskHandle<ProgramResult> &t)
{
    if (const ProgramResult *r = resultOf(t))
        return *r;
    if (t.state() == TaskState::Failed && t.error().partial.canConvert<ProgramResult>())
        return t.error().partial.value<ProgramResult>();
    return std::nullopt;
}

QJsonObject finishedEvent(const TaskHandle<ProgramResult> &t)
{
    QJsonObject o { { "event", "finished" }, { "state", stateName(t.state()) } };
    const std::optional<ProgramResult> r = anyResult(t);
    o.insert("exitCode", r && !r->signal ? QJsonValue(r->exitCode) : QJsonValue());
    if (r && r->signal)
        o.insert("signal", r->signal);
    o.insert("elapsedMs", qint64(t.elapsed().count()));
    QJsonValue result;
    if (r) {
        if (!r->json.isUndefined())
            result = r->json;
        else if (!r->semResults.isEmpty()) {
            QJsonObject sem;
            for (auto it = r->semResults.cbegin(); it != r->semResults.cend(); ++it)
                sem.insert(it.key(), it.value());
            result = sem;
        }
    }
    o.insert("result", result);
    o.insert("error",
        t.state() == TaskState::Failed ? QJsonValue(errorToJson(t.error())) : QJsonValue());
    return o;
}

void printFailure(Reporter &rep, const TaskHandle<ProgramResult> &t)
{
    if (t.state() == TaskState::Failed)
        rep.message(QStringLiteral("offload: %1").arg(t.error().summary()));
    else if (t.state() == TaskState::Cancelled)
        rep.message(
            QStringLiteral("offload: cancelled; the program and its children were stopped"));
}

// Shows one run's progress and output; returns the exit code once it has ended.
int waitForRun(Reporter &rep, const TaskHandle<ProgramResult> &run,
    const std::function<void(const TaskHandle<ProgramResult> &)> &onEnd)
{
    int code = 1;
    installCancelSignals([run](int) { run.cancel(); });
    run.onProgress([&rep](const Progress &p) { rep.progress(p); });
    run.onOutput([&rep](const OutputChunk &c) { rep.output(c); });
    run.onFinished([&](const TaskHandle<ProgramResult> &t) {
        rep.flushOutput();
        rep.clearLine();
        const std::optional<ProgramResult> r = anyResult(t);
        code = exitCodeFor(t.state(), t.error(), r ? r->exitCode : 0);
        onEnd(t);
        if (const qint64 dropped = t.droppedOutputBytes()) { // never expected: said loudly
            rep.message(
                QStringLiteral("offload: warning: %1 bytes of output were lost").arg(dropped));
            if (code == 0)
                code = 1;
        }
        QCoreApplication::exit(0);
    });
    QCoreApplication::exec();
    return code;
}

// Options shared by run and module: they are taken out of args.
struct CommonOptions
{
    bool json = false;
    std::chrono::milliseconds timeout { 0 };
    QString error;
};

bool takeOption(QStringList &args, int &i, CommonOptions &o)
{
    if (args[i] == QLatin1String("--json")) {
        o.json = true;
        return true;
    }
    if (args[i] == QLatin1String("--timeout")) {
        const auto t = i + 1 < args.size() ? parseSeconds(args[i + 1]) : std::nullopt;
        if (!t)
            o.error = QStringLiteral(
                "--timeout needs a number of seconds from 0 (none) to 1e7, got '%1'")
                          .arg(i + 1 < args.size() ? args[i + 1] : QString());
        else
            o.timeout = *t;
        ++i;
        return true;
    }
    return false;
}

} // namespace

int runCommand(const QStringList &argsIn, const QByteArrayList &raw)
{
    QStringList args = argsIn;
    CommonOptions common;
    ProgramSpec spec;
    int i = 0;
    for (; i < args.size(); ++i) {
        const QString &a = args[i];
        if (a == QLatin1String("--")) {
            ++i;
            break;
        }
        if (takeOption(args, i, common))
            continue;
        if (a == QLatin1String("--progress") && i + 1 < args.size()) {
            static const QMap<QString, ProgressFormat> formats { { "auto", ProgressFormat::Auto },
                { "sem", ProgressFormat::Sem }, { "lines", ProgressFormat::Lines },
                { "raw", ProgressFormat::Raw }, { "none", ProgressFormat::None } };
            if (!formats.contains(args[++i]))
                return usageError(
                    QStringLiteral("--progress is one of auto, sem, lines, raw, none"));
            spec.progress = formats.value(args[i]);
            continue;
        }
        if (a.startsWith(QLatin1Char('-')))
            return usageError(QStringLiteral("unknown option %1").arg(a));
        break; // the program
    }
    if (!common.error.isEmpty())
        return usageError(common.error);
    if (i >= args.size())
        return usageError(QStringLiteral("no program given"));
    spec.program = args[i];
    spec.arguments = raw.mid(i + 1);
    spec.timeout = common.timeout;
    Reporter rep(common.json);
    if (spec.progress == ProgressFormat::Raw) {
        // Streamed both ways, never held whole: the program reads our stdin itself, and its
        // stdout is passed on chunk by chunk as it comes (base64 in JSON events).
        spec.progress = ProgressFormat::None;
        spec.stdinFd = STDIN_FILENO;
        rep.setBinaryOutput(true);
    }
    ProgramRunner runner(1);
    const auto run = runner.run(qApp, spec);
    return waitForRun(rep, run, [&rep](const TaskHandle<ProgramResult> &t) {
        if (rep.json())
            return rep.event(finishedEvent(t));
        if (const ProgramResult *r = resultOf(t)) {
            if (!r->json.isUndefined()) {
                // Any JSON value as JSON text: wrapped in an array, then the brackets dropped.
                const QByteArray text
                    = QJsonDocument(QJsonArray { r->json }).toJson(QJsonDocument::Compact);
                std::printf("%s\n", text.mid(1, text.size() - 2).constData());
            }
            for (auto it = r->semResults.cbegin(); it != r->semResults.cend(); ++it)
                std::printf("%s = %s\n", qPrintable(it.key()), qPrintable(it.value()));
        }
        printFailure(rep, t);
    });
}

namespace {

// Describes a module (waiting in the event loop) or parses an .xml file.
std::optional<Module> describeOrReport(
    ModuleRunner &modules, const QString &path, Reporter &rep, int &code)
{
    const QFileInfo info(path);
    if (path.endsWith(QLatin1String(".xml")) && info.exists() && !info.isDir()) {
        // Not only regular files come here: a FIFO or a device is refused, not waited on.
        const detail::RegularFileRead file
            = detail::readRegularFile(QFile::encodeName(path), sem::maxDescriptionBytes);
        if (!file.ok()) {
            rep.message(QStringLiteral("offload: cannot read %1").arg(file.error));
            code = 1;
            return std::nullopt;
        }
        sem::ParseResult parsed = sem::parseDescription(file.data);
        if (!parsed.ok()) {
            rep.message(QStringLiteral("offload: %1:%2:%3: %4")
                            .arg(path)
                            .arg(parsed.line)
                            .arg(parsed.column)
                            .arg(parsed.error));
            code = 1;
            return std::nullopt;
        }
        Module m;
        m.path = info.absoluteFilePath();
        m.description = std::move(*parsed.description);
        m.descriptionSource = m.path;
        return m;
    }
    std::optional<Module> out;
    auto task = modules.describe(qApp, path);
    installCancelSignals([task](int) { task.cancel(); });
    task.onFinished([&](const TaskHandle<Module> &t) {
        if (t.state() == TaskState::Finished) {
            out = t.result();
        } else {
            rep.message(QStringLiteral("offload: %1")
                            .arg(t.state() == TaskState::Failed ? t.error().summary()
                                                                : QStringLiteral("cancelled")));
            code = exitCodeFor(t.state(), t.error(), 1);
        }
        QCoreApplication::exit(0);
    });
    QCoreApplication::exec();
    return out;
}

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

int describeCommand(const QStringList &argsIn)
{
    QStringList args = argsIn;
    const bool json = args.removeAll(QStringLiteral("--json")) > 0;
    if (args.size() != 1)
        return usageError(QStringLiteral("describe takes one module or .xml file"));
    Reporter rep(json);
    ModuleRunner modules;
    int code = 0;
    const std::optional<Module> m = describeOrReport(modules, args[0], rep, code);
    if (!m)
        return code;
    if (json)
        rep.event(QJsonObject { { "event", "description" }, { "module", moduleJson(*m) } });
    else
        printModule(*m);
    return 0;
}

int moduleCommand(const QStringList &argsIn)
{
    QStringList args = argsIn;
    if (args.isEmpty() || args[0].startsWith(QLatin1Char('-')))
        return usageError(QStringLiteral("module needs a module path or name first"));
    const QString path = args.takeFirst();
    CommonOptions common;
    QList<QPair<QString, QString>> raw;
    QString paramsFile;
    for (int i = 0; i < args.size(); ++i) {
        if (takeOption(args, i, common))
            continue;
        if (args[i] == QLatin1String("--params")) {
            if (i + 1 >= args.size() || !paramsFile.isEmpty())
                return usageError(QStringLiteral("--params takes one JSON parameter file"));
            paramsFile = args[++i];
            continue;
        }
        if (!args[i].startsWith(QLatin1String("--")) || args[i].size() < 3)
            return usageError(QStringLiteral("expected --NAME VALUE, got '%1'").arg(args[i]));
        const QString name = args[i].mid(2);
        if (std::any_of(raw.cbegin(), raw.cend(),
                [&name](const auto &given) { return given.first == name; }))
            return usageError(QStringLiteral("--%1 is given more than once").arg(name));
        const bool hasValue = i + 1 < args.size() && !args[i + 1].startsWith(QLatin1String("--"));
        raw.append({ name, hasValue ? args[++i] : QString() });
    }
    if (!common.error.isEmpty())
        return usageError(common.error);
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

int batchCommand(const QStringList &argsIn)
{
    QStringList args = argsIn;
    bool json = false;
    int parallel = 0;
    QString file;
    for (int i = 0; i < args.size(); ++i) {
        if (args[i] == QLatin1String("--json")) {
            json = true;
        } else if (args[i] == QLatin1String("-j") && i + 1 < args.size()) {
            bool ok = false;
            parallel = args[++i].toInt(&ok);
            if (!ok || parallel < 1 || parallel > 1024)
                return usageError(QStringLiteral("-j needs a number from 1 to 1024"));
        } else if (args[i].startsWith(QLatin1Char('-'))) {
            return usageError(QStringLiteral("unknown option %1").arg(args[i]));
        } else if (file.isEmpty()) {
            file = args[i];
        } else {
            return usageError(QStringLiteral("batch takes one file"));
        }
    }
    if (file.isEmpty())
        return usageError(QStringLiteral("batch needs a file of command lines"));
    QFile in(file);
    if (file == QLatin1String("-") ? !in.open(stdin, QIODevice::ReadOnly)
                                   : !in.open(QIODevice::ReadOnly))
        return usageError(QStringLiteral("cannot read %1: %2").arg(file, in.errorString()));
    std::vector<QByteArrayList> commands;
    // How a failure names its command: "line N: " and at most 200 characters of the line.
    std::vector<QString> echoes;
    int lineNumber = 0;
    for (const QByteArray &line : in.readAll().split('\n')) {
        ++lineNumber;
        if (line.contains('\0')) // an argument cannot hold one: it would be cut there, silently
            return usageError(
                QStringLiteral("%1:%2: the line holds a NUL byte").arg(file).arg(lineNumber));
        const QByteArray bytes = line.trimmed();
        if (bytes.isEmpty() || bytes.startsWith('#'))
            continue;
        const QString text = QString::fromUtf8(bytes); // for messages only
        const std::optional<QByteArrayList> argv = splitWords(bytes);
        if (!argv)
            return usageError(QStringLiteral("%1:%2: unterminated quote or trailing backslash")
                                  .arg(file)
                                  .arg(lineNumber));
        if (!argv->isEmpty()) {
            commands.push_back(*argv);
            constexpr qsizetype echoed = 200;
            echoes.push_back(
                QStringLiteral("line %1: %2")
                    .arg(lineNumber)
                    .arg(text.size() > echoed ? text.left(echoed) + QChar(0x2026) : text));
        }
    }

    Reporter rep(json);
    ProgramRunner runner(parallel);
    std::vector<TaskHandle<ProgramResult>> runs;
    std::vector<double> fractions(commands.size(), 0.0);
    std::vector<char> isRunning(commands.size(), 0);
    int ended = 0, failed = 0, cancelled = 0, running = 0;
    QElapsedTimer clock;
    clock.start();
    const auto showProgress = [&] {
        double sum = 0;
        for (double f : fractions)
            sum += f;
        Progress p;
        p.setFraction(commands.empty() ? 1.0 : sum / double(commands.size()));
        p.text = QStringLiteral("%1/%2 done, %3 running, %4 failed")
                     .arg(ended)
                     .arg(commands.size())
                     .arg(running)
                     .arg(failed);
        rep.progress(p, QStringLiteral("batch "));
    };
    installCancelSignals([&runs](int) {
        for (const auto &r : runs)
            r.cancel();
    });
    for (size_t index = 0; index < commands.size(); ++index) {
        ProgramSpec spec;
        spec.program = QFile::decodeName(commands[index].first());
        spec.arguments = commands[index].mid(1);
        const int n = int(index);
        auto run = runner.run(qApp, spec);
        run.onStateChanged([&, n](TaskState s) {
            if (s == TaskState::Running && !isRunning[size_t(n)]) {
                isRunning[size_t(n)] = 1;
                ++running;
            }
            if (rep.json())
                rep.event(
                    QJsonObject { { "event", "state" }, { "run", n }, { "state", stateName(s) } });
        });
        run.onProgress([&, n](const Progress &p) {
            fractions[size_t(n)] = p.maximum > p.minimum ? p.fraction() : 0;
            if (rep.json())
                rep.progress(p, {}, n);
            else
                showProgress();
        });
        if (json)
            run.onOutput([&rep, n](const OutputChunk &c) { rep.output(c, n); });
        run.onFinished([&, n](const TaskHandle<ProgramResult> &t) {
            rep.flushOutput(n);
            if (isRunning[size_t(n)]) {
                isRunning[size_t(n)] = 0;
                --running;
            }
            ++ended;
            fractions[size_t(n)] = 1.0;
            failed += t.state() == TaskState::Failed;
            cancelled += t.state() == TaskState::Cancelled;
            if (rep.json()) {
                QJsonObject o = finishedEvent(t);
                o.insert("run", n);
                rep.event(o);
            } else {
                showProgress();
            }
            if (ended == int(commands.size()))
                QCoreApplication::exit(0);
        });
        runs.push_back(run);
    }
    if (!commands.empty())
        QCoreApplication::exec();
    rep.clearLine();
    const int finished = ended - failed - cancelled;
    const QString summary
        = QStringLiteral("%1 runs: %2 finished, %3 failed, %4 cancelled in %5 s (%6 at once)")
              .arg(commands.size())
              .arg(finished)
              .arg(failed)
              .arg(cancelled)
              .arg(double(clock.elapsed()) / 1000.0, 0, 'f', 2)
              .arg(runner.maxParallel());
    if (json) {
        rep.event(QJsonObject { { "event", "summary" }, { "runs", int(commands.size()) },
            { "finished", finished }, { "failed", failed }, { "cancelled", cancelled },
            { "elapsedMs", clock.elapsed() } });
    } else {
        for (size_t n = 0; n < runs.size(); ++n)
            if (runs[n].state() == TaskState::Failed)
                std::fprintf(stderr, "failed: run %zu (%s): %s\n", n + 1, qPrintable(echoes[n]),
                    qPrintable(runs[n].error().summary()));
        std::fprintf(stderr, "%s\n", qPrintable(summary));
    }
    if (receivedSignal())
        return 128 + receivedSignal();
    return failed || cancelled ? 1 : 0;
}
