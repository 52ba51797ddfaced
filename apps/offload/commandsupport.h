// What the offload tool's subcommands share: usage errors, timeouts, the options of run and
// module, describing a module, and waiting for one run while its progress and output are shown.
#pragma once

#include "reporter.h"

#include <offload/modules/modulerunner.h>
#include <offload/process/launcher.h>

#include <QCommandLineParser>
#include <QJsonObject>
#include <QString>
#include <QStringList>

#include <chrono>
#include <functional>
#include <optional>

namespace cli {

// Prints "offload: WHY (see offload --help)" and returns 2, the exit code of a usage error.
int usageError(const QString &why);

// A timeout in seconds: finite, from 0 (none) to 1e7; a positive one shorter than a
// millisecond is rounded up to one, never down to "none".
std::optional<std::chrono::milliseconds> parseSeconds(const QString &text);

// The result of a run that Finished, else null.
const offload::ProgramResult *resultOf(const offload::TaskHandle<offload::ProgramResult> &t);
// The ProgramResult of a run, finished or failed (then from Error::partial), if there is one.
std::optional<offload::ProgramResult> anyResult(
    const offload::TaskHandle<offload::ProgramResult> &t);
// The "finished" event of --json output.
QJsonObject finishedEvent(const offload::TaskHandle<offload::ProgramResult> &t);
// Says why a run failed or that it was cancelled; nothing for a finished one.
void printFailure(Reporter &rep, const offload::TaskHandle<offload::ProgramResult> &t);

// Shows one run's progress and output; returns the exit code once it has ended.
int waitForRun(Reporter &rep, const offload::TaskHandle<offload::ProgramResult> &run,
    const std::function<void(const offload::TaskHandle<offload::ProgramResult> &)> &onEnd);

// Options shared by run and module.
struct CommonOptions
{
    bool json = false;
    std::chrono::milliseconds timeout { 0 };
    offload::Launcher launcher; // --on local|ssh://[user@]host[:port]
};

// One subcommand's options, parsed by QCommandLineParser (no --help of its own: the tool's
// usage text covers every subcommand). Add options to parser, then parse().
class CommandLine
{
public:
    explicit CommandLine(const QString &command);
    QCommandLineParser parser;
    const QCommandLineOption json { QStringLiteral("json"), QStringLiteral("JSON events") };
    const QCommandLineOption timeout { QStringLiteral("timeout"), QStringLiteral("seconds"),
        QStringLiteral("S") };
    const QCommandLineOption on { QStringLiteral("on"), QStringLiteral("where to run"),
        QStringLiteral("PLACE") };
    const QCommandLineOption sshConfig { QStringLiteral("ssh-config"),
        QStringLiteral("ssh client configuration"), QStringLiteral("FILE") };
    // Adds --json, --timeout S, --on PLACE and --ssh-config FILE.
    void addCommonOptions();
    // The arguments after the subcommand's name. nullopt: parsed; else the exit code of the
    // usage error it printed.
    std::optional<int> parse(const QStringList &args);
    // --json, --timeout and --on (if added), after parse(); the exit code of a usage error if
    // a value is wrong.
    std::optional<int> readCommonOptions(CommonOptions &o) const;
    // --on and --ssh-config alone (batch has no --timeout).
    std::optional<int> readLauncher(offload::Launcher &launcher) const;

private:
    QString m_command;
};

// Describes a module (waiting in the event loop) or parses an .xml file; on failure reports
// it, sets code and returns nullopt.
std::optional<offload::Module> describeOrReport(
    offload::ModuleRunner &modules, const QString &path, Reporter &rep, int &code);

} // namespace cli
