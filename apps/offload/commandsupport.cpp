// What the subcommands share (commandsupport.h).
#include "commandsupport.h"

#include <offload/sem/parameterfile.h>

#include "offload/core/regularfile_p.h"

#include <QCoreApplication>
#include <QFile>
#include <QFileInfo>

#include <cmath>
#include <cstdio>

using namespace offload;

namespace cli {

int usageError(const QString &why)
{
    std::fprintf(stderr, "offload: %s (see offload --help)\n", qPrintable(why));
    return 2;
}

std::optional<std::chrono::milliseconds> parseSeconds(const QString &text)
{
    bool ok = false;
    const double s = text.toDouble(&ok);
    if (!ok || !std::isfinite(s) || s < 0 || s > 1e7)
        return std::nullopt;
    return std::chrono::milliseconds(qint64(std::ceil(s * 1000)));
}

const ProgramResult *resultOf(const TaskHandle<ProgramResult> &t)
{
    if (t.state() == TaskState::Finished)
        return &t.result();
    return nullptr;
}

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

CommandLine::CommandLine(const QString &command) : m_command(command) { }

void CommandLine::addCommonOptions()
{
    parser.addOption(json);
    parser.addOption(timeout);
    parser.addOption(on);
    parser.addOption(sshConfig);
}

std::optional<int> CommandLine::parse(const QStringList &args)
{
    // QCommandLineParser skips the first argument, the program's name.
    if (!parser.parse(QStringList { QStringLiteral("offload ") + m_command } + args))
        return usageError(parser.errorText());
    return std::nullopt;
}

std::optional<int> CommandLine::readCommonOptions(CommonOptions &o) const
{
    o.json = parser.isSet(json);
    if (parser.isSet(timeout)) {
        const QString given = parser.value(timeout);
        const auto t = parseSeconds(given);
        if (!t)
            return usageError(
                QStringLiteral("--timeout needs a number of seconds from 0 (none) to 1e7, got '%1'")
                    .arg(given));
        o.timeout = *t;
    }
    return readLauncher(o.launcher);
}

std::optional<int> CommandLine::readLauncher(offload::Launcher &launcher) const
{
    if (!parser.isSet(on)) {
        if (parser.isSet(sshConfig))
            return usageError(QStringLiteral("--ssh-config needs --on ssh://..."));
        return std::nullopt;
    }
    if (parser.values(on).size() > 1 || parser.values(sshConfig).size() > 1)
        return usageError(QStringLiteral("--on and --ssh-config are given once each"));
    QString why;
    auto parsed = offload::Launcher::parse(parser.value(on), &why);
    if (!parsed)
        return usageError(QStringLiteral("--on: %1").arg(why));
    if (parser.isSet(sshConfig)) {
        if (parsed->isLocal())
            return usageError(QStringLiteral("--ssh-config needs --on ssh://..."));
        if (parsed->kind() != offload::Launcher::Kind::Ssh)
            return usageError(QStringLiteral("--ssh-config needs --on ssh://..."));
        offload::SshTarget t = parsed->sshTarget();
        t.configFile = parser.value(sshConfig);
        parsed = offload::Launcher::ssh(t);
    }
    launcher = *parsed;
    return std::nullopt;
}

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

} // namespace cli
