// Private: one child process from spawn to reap, the lifecycle that program runs and workers
// share. It owns the process, its pipes and its process tree (processtree_p.h); its stop
// policy is data (steps with deadlines); its exit is reported once the whole tree is dead,
// the main process reaped and its output pipes read to the end, so no byte is lost.
// Supervisor thread only.
#pragma once

#include "launch_p.h"
#include "processtree_p.h"
#include "supervisor_p.h"

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

namespace offload::detail {

class ChildProcess final : public Process
{
public:
    // Spawns request (its cgroupProcsFd is set here). nullptr and *error on failure.
    static std::unique_ptr<ChildProcess> start(
        SpawnRequest request, Handlers handlers, Error *error);
    // A child still running is killed with its tree and reaped here (SIGKILL: prompt).
    ~ChildProcess() override;
    ChildProcess(const ChildProcess &) = delete;
    ChildProcess &operator=(const ChildProcess &) = delete;

    pid_t pid() const { return m_pid; }
    ProcessInfo sample() const override;
    int stdinFd() const override { return m_stdinFd; }
    void closeStdin() override;
    ProcessTree::Mechanism treeMechanism() const { return m_tree->mechanism(); }

    void stop(StopPolicy policy) override;
    bool isStopping() const override { return m_stopping; }
    // A paused pipe is not read; the exit is then reported only after it has been read to
    // the end.
    void setStdoutPaused(bool paused) override { setPaused(m_out, paused); }
    void setStderrPaused(bool paused) override { setPaused(m_err, paused); }
    void drainOutput() override;

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
    std::unique_ptr<StopSequence> m_stopSequence;
    uint64_t m_lingerTimer = 0;
    bool m_stopping = false;
    bool m_reaped = false;
    ExitStatus m_status;
    std::function<void(const ExitStatus &)> m_exited;
};

} // namespace offload::detail
