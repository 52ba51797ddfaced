// Private: one child process from spawn to reap, the lifecycle that program runs and workers
// share. It owns the process, its pipes and its process tree (processtree_p.h); its stop
// policy is data (steps with deadlines); its exit is reported once the whole tree is dead,
// the main process reaped and its output pipes read to the end, so no byte is lost.
// Supervisor thread only.
#pragma once

#include "processtree_p.h"
#include "spawn_p.h"
#include "supervisor_p.h"

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace offload::detail {

// One step of stopping a child: an action, then how long to wait before the next step.
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
};

class ChildProcess
{
public:
    using DataHandler = std::function<void(const char *data, size_t size)>;
    struct Handlers
    {
        DataHandler stdoutData; // each chunk as it is read; size 0 once at the end of the stream
        DataHandler stderrData;
        // Last call of all; the handler may destroy the ChildProcess.
        std::function<void(const ExitStatus &)> exited;
    };

    // Spawns request (its cgroupProcsFd is set here). nullptr and *error on failure.
    static std::unique_ptr<ChildProcess> start(
        SpawnRequest request, Handlers handlers, Error *error);
    // A child still running is killed with its tree and reaped here (SIGKILL: prompt).
    ~ChildProcess();
    ChildProcess(const ChildProcess &) = delete;
    ChildProcess &operator=(const ChildProcess &) = delete;

    pid_t pid() const { return m_pid; }
    int stdinFd() const { return m_stdinFd; } // non-blocking; the owner writes
    void closeStdin();
    ProcessTree::Mechanism treeMechanism() const { return m_tree->mechanism(); }

    // Runs the policy's steps from the first; replaces a policy already running.
    void stop(StopPolicy policy);
    bool isStopping() const { return m_stopping; }
    // Back-pressure: while paused, a stream's pipe is not read (the child blocks when it
    // fills). Its exit is then reported only after the pipe has been read to the end.
    void setStdoutPaused(bool paused) { setPaused(m_out, paused); }
    void setStderrPaused(bool paused) { setPaused(m_err, paused); }
    // Reads what the output pipes hold right now (bounded), e.g. before a call's answer.
    void drainOutput();

private:
    struct Stream
    {
        int fd = -1;
        uint64_t watch = 0;
        bool paused = false;
        DataHandler handler;
    };
    ChildProcess() = default;
    void watchStream(Stream &s);
    void readStream(Stream &s);
    void closeStream(Stream &s);
    void setPaused(Stream &s, bool paused);
    void runStep(size_t index);
    void onPidfd();
    void finishIfDone();
    template<typename F> auto guarded(F fn)
    {
        return [weak = std::weak_ptr<int>(m_alive), fn](auto &&...args) {
            if (weak.lock())
                fn(std::forward<decltype(args)>(args)...);
        };
    }

    Supervisor &m_sup = Supervisor::instance();
    std::shared_ptr<int> m_alive = std::make_shared<int>(0); // weak copies guard callbacks
    std::unique_ptr<ProcessTree> m_tree;
    pid_t m_pid = -1;
    int m_pidfd = -1, m_stdinFd = -1;
    uint64_t m_pidWatch = 0;
    Stream m_out, m_err;
    StopPolicy m_policy;
    uint64_t m_stepTimer = 0, m_lingerTimer = 0;
    bool m_stopping = false;
    bool m_reaped = false;
    ExitStatus m_status;
    std::function<void(const ExitStatus &)> m_exited;
};

} // namespace offload::detail
