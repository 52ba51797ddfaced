// Private: the launcher seam. A Process is one started program wherever it runs (this
// machine: ChildProcess; a host over ssh: SshProcess); program runs and worker pools hold one
// and never ask where it is. Setup is a SpawnRequest plus a Launcher, the result an
// ExitStatus, both plain data. Supervisor thread only.
#pragma once

#include "spawn_p.h"

#include <offload/core/output.h>
#include <offload/process/launcher.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace offload::detail {

// One step of stopping a program: an action, then how long to wait before the next step.
struct StopStep
{
    enum Action { Call, Signal, Kill };
    Action action = Kill;
    int signal = 0; // Signal: sent to every process of the tree
    std::function<void()> call; // Call: e.g. send the worker a cancel or bye message
    std::chrono::milliseconds then { 0 };

    static StopStep message(std::function<void()> fn, std::chrono::milliseconds then)
    {
        return { Call, 0, std::move(fn), then };
    }
    static StopStep sendSignal(int signal, std::chrono::milliseconds then)
    {
        return { Signal, signal, {}, then };
    }
    static StopStep kill() { return { Kill, 0, {}, std::chrono::milliseconds(0) }; }
};
using StopPolicy = std::vector<StopStep>;

// SIGTERM to the whole tree, grace, SIGKILL to the whole tree.
inline StopPolicy terminateThenKill(std::chrono::milliseconds grace)
{
    return { StopStep::sendSignal(15, grace), StopStep::kill() };
}

struct ExitStatus
{
    int exitCode = -1; // -1 when killed by a signal
    int signal = 0; // non-zero when killed by a signal
    // The launcher's own failure (the host unreachable, the connection lost, the program
    // missing over there): the program's status above then means nothing.
    std::optional<Error> failure;
    // SpawnRequest::returnFileArgument's file: its bytes, nothing if it was not written, or
    // why it could not be taken (returnFileProblem).
    std::optional<QByteArray> returnFile;
    QString returnFileProblem;
};

class Process
{
public:
    using DataHandler = std::function<void(const char *data, size_t size)>;
    // The state contract: each handler is called from the supervisor's loop, never from
    // inside a member function of the Process, except that drainOutput() delivers what the
    // streams hold at once.
    struct Handlers
    {
        // The program's stdout, each chunk as it is read, in order; size 0 once at its end.
        DataHandler stdoutData;
        DataHandler stderrData; // the same for stderr
        // Optional: a remote program's pid (sample()) has become known; not called locally,
        // where it is known when start returns.
        std::function<void()> located;
        // Optional: a job waits in a queue (Slurm), for the reason given; called again
        // when the reason changes.
        std::function<void(const QString &reason)> pending;
        // Last call of all, once, after both streams ended; the handler may destroy the
        // Process.
        std::function<void(const ExitStatus &)> exited;
    };

    virtual ~Process() = default; // a program still running is killed with its tree
    // Its pid where it runs (-1 while a remote one is starting), the place, and on this
    // machine RSS and CPU time.
    virtual ProcessInfo sample() const = 0;
    virtual int stdinFd() const = 0; // non-blocking, -1 if none; the owner writes
    virtual void closeStdin() = 0;
    // Runs the policy's steps from the first; replaces a policy already running.
    virtual void stop(StopPolicy policy) = 0;
    virtual bool isStopping() const = 0;
    // Back-pressure: while paused, a stream is not read (the program blocks when it fills).
    virtual void setStdoutPaused(bool paused) = 0;
    virtual void setStderrPaused(bool paused) = 0;
    // Reads what the output streams hold right now (bounded), e.g. before a call's answer.
    virtual void drainOutput() = 0;
};

// Starts request where launcher says. nullptr and *error when it cannot start at all; a
// remote program that turns out missing later ends with ExitStatus::failure instead.
std::unique_ptr<Process> startProcess(
    const Launcher &launcher, SpawnRequest request, Process::Handlers handlers, Error *error);

// Runs a stop policy's steps with their delays (shared by every kind of Process).
class StopSequence
{
public:
    struct Actions
    {
        std::function<void(int signal)> signal;
        std::function<void()> kill;
    };
    explicit StopSequence(Actions actions) : m_actions(std::move(actions)) { }
    ~StopSequence() { cancel(); }
    StopSequence(const StopSequence &) = delete;
    StopSequence &operator=(const StopSequence &) = delete;
    void start(StopPolicy policy);
    void cancel(); // no further steps
    bool isRunning() const { return m_running; }

private:
    void run(size_t index);
    Actions m_actions;
    StopPolicy m_policy;
    uint64_t m_timer = 0;
    quint64 m_generation = 0; // a policy started from within a step replaces the running one
    bool m_running = false;
    std::shared_ptr<int> m_alive = std::make_shared<int>(0);
};

} // namespace offload::detail
