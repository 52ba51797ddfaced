// ProgramRunner: runs existing command-line programs as tasks, several at once.
#pragma once

#include <offload/core/taskhandle.h>
#include <offload/process/environment.h>
#include <offload/process/export.h>
#include <offload/process/launcher.h>

#include <QByteArrayList>
#include <QJsonValue>
#include <QMap>

#include <chrono>
#include <memory>
#include <optional>

namespace offload {

namespace detail {
class RunnerImpl;
}

// How a program reports progress on stdout.
enum class ProgressFormat {
    Auto, // SEM tags and PROGRESS lines, whichever the program prints
    Sem, // Slicer Execution Model <filter-...> tags
    Lines, // "PROGRESS 0.42" lines, then "COMPLETE" and a JSON result
    Raw, // none; all of stdout is the result (binary, e.g. a pickled dict)
    None, // none; exit status only
};

// One run: argv executed directly (never a shell).
struct ProgramSpec
{
    QString program;
    QByteArrayList arguments; // bytes, passed exactly (an argument need not be UTF-8)
    Environment environment = Environment::inherited(); // bytes too
    QString workingDirectory;
    QByteArray stdinData; // written, then stdin is closed
    int stdinFd = -1; // instead: the program reads this descriptor (duplicated by run())
    ProgressFormat progress = ProgressFormat::Auto;
    std::chrono::milliseconds timeout { 0 }; // 0: none; then Failed with kind timeout
    std::chrono::milliseconds cancelGrace { 2000 }; // SIGTERM to the tree, this long, SIGKILL
    qint64 outputLimit = 1 << 20; // kept per stream in the result (the newest bytes), drops counted
    qint64 rawLimit = qint64(1) << 30; // Raw: more stdout than this fails the run (kind protocol)
    int niceness = 10;
    QString name; // for the monitor; default the program's file name
    // Where it runs (see Launcher): over ssh, program, arguments and workingDirectory name
    // things over there, stdin and stdout pass through the connection, cancel stops the
    // remote tree, and a return-parameter file is made over there and its bytes brought back.
    Launcher launcher;
    // SEM return parameters: the runner makes a private (0700) temporary directory, passes a
    // file in it (replacing every argument equal to returnParameterFilePlaceholder, else as
    // "--returnparameterfile <file>" at the end), reads the file after the program exits,
    // failed or not, into ProgramResult::returnParameters, and removes the directory. A file
    // that is not a regular file (a FIFO, a symbolic link) or is over 16 MiB fails the run
    // (kind protocol); it is never read blocking or truncated.
    bool returnParameterFile = false;
    static constexpr const char *returnParameterFilePlaceholder = "{returnparameterfile}";
};

struct ProgramResult
{
    int exitCode = -1;
    int signal = 0; // non-zero if killed by a signal
    std::chrono::milliseconds elapsed { 0 };
    QJsonValue json; // Lines: the document after COMPLETE (else Undefined)
    QByteArray raw; // Raw: all of stdout
    QMap<QString, QString> semResults; // CTK <filter-result name="...">
    QByteArray stdoutText; // stdout without progress markup (bounded ring)
    QByteArray stderrText; // bounded ring
    qint64 droppedStdout = 0, droppedStderr = 0;
    // The return-parameter file's contents; nullopt if it was not asked for or the program
    // did not write it.
    std::optional<QByteArray> returnParameters;
};

// Runs programs with at most maxParallel at once (FIFO). Each run is a task: progress from the
// program's output, output streamed to onOutput, result or structured error (kind exit code,
// crash, timeout, launch, protocol). A non-zero exit or a signal fails the task with the stderr
// tail; the error's `partial` then holds the ProgramResult gathered so far (outputs, return
// parameters), so nothing the program produced is lost.
// Output: a consumer that subscribed with onOutput gets every byte in order: while its thread
// is behind, the runner stops reading the pipe (the program waits) instead of dropping.
// Process tree: every descendant is stopped with the program, also one that calls setsid()
// (each run has its own cgroup where the system allows, see docs/reliability.md): on cancel or
// timeout SIGTERM, cancelGrace, SIGKILL; when the main process exits, whatever is left of its
// tree is killed at once; if the application dies, a guard process kills what is left.
// Children get PYTHONUNBUFFERED=1 unless set.
// Thread-safety: every member may be called from any thread; I/O runs on Offload's
// supervisor thread. Destroying the runner cancels queued runs and kills running ones.
class OFFLOAD_PROCESS_EXPORT ProgramRunner
{
public:
    explicit ProgramRunner(int maxParallel = 0); // 0: the number of cores
    ~ProgramRunner();
    ProgramRunner(const ProgramRunner &) = delete;
    ProgramRunner &operator=(const ProgramRunner &) = delete;

    TaskHandle<ProgramResult> run(QObject *context, ProgramSpec spec);
    int maxParallel() const;

private:
    std::shared_ptr<detail::RunnerImpl> d;
};

} // namespace offload

Q_DECLARE_METATYPE(offload::ProgramResult)
