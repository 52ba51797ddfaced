#include "childprocess_p.h"
#include "io_p.h"
#include "procstat_p.h"

#include <csignal>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace offload::detail {

namespace {
// After the main process is reaped and its tree killed, its pipes reach EOF once read; only a
// descendant that escaped the tree (no cgroup, and it called setsid) can hold them open. Such
// a pipe is closed this long after the exit, unless the consumer is still catching up.
constexpr std::chrono::milliseconds lingerAfterExit { 1000 };
} // namespace

std::unique_ptr<ChildProcess> ChildProcess::start(
    SpawnRequest request, Handlers handlers, Error *error)
{
    std::unique_ptr<ChildProcess> c(new ChildProcess);
    c->m_tree = ProcessTree::create();
    request.cgroupProcsFd = c->m_tree->cgroupProcsFd();
    request.pipeStdout = request.pipeStdout && bool(handlers.stdoutData);
    request.pipeStderr = request.pipeStderr && bool(handlers.stderrData);
    Spawned sp;
    std::optional<Error> failed = spawnProcess(request, sp);
    if (failed && sp.joinCgroupFailed) {
        // Not allowed to move into our own sub-cgroup (delegation rules): groups from now on.
        ProcessTree::disableCgroups();
        c->m_tree = ProcessTree::create();
        request.cgroupProcsFd = -1;
        sp = Spawned {};
        failed = spawnProcess(request, sp);
    }
    if (failed) {
        *error = *failed;
        return nullptr;
    }
    c->m_pid = sp.pid;
    c->m_pidfd = sp.pidfd;
    c->m_stdinFd = sp.stdinFd;
    c->m_tree->started(sp.pid);
    c->m_exited = std::move(handlers.exited);
    c->m_out.fd = sp.stdoutFd;
    c->m_out.handler = std::move(handlers.stdoutData);
    c->m_err.fd = sp.stderrFd;
    c->m_err.handler = std::move(handlers.stderrData);
    ChildProcess *self = c.get();
    c->m_pidWatch
        = c->m_sup.watch(c->m_pidfd, EPOLLIN, c->guarded([self](uint32_t) { self->onPidfd(); }));
    c->watchStream(c->m_out);
    c->watchStream(c->m_err);
    return c;
}

ChildProcess::~ChildProcess()
{
    m_alive.reset();
    m_stopSequence.reset();
    if (m_lingerTimer)
        m_sup.cancelTimer(m_lingerTimer);
    if (!m_reaped && m_pid > 0) {
        m_tree->killAll();
        siginfo_t info {};
        while (::waitid(P_PIDFD, id_t(m_pidfd), &info, WEXITED) != 0 && errno == EINTR) { }
        m_tree->reaped();
    }
    if (m_pidWatch)
        m_sup.unwatch(m_pidWatch);
    if (m_pidfd >= 0)
        ::close(m_pidfd);
    closeStream(m_out);
    closeStream(m_err);
    closeStdin();
}

void ChildProcess::closeStdin()
{
    if (m_stdinFd >= 0)
        ::close(m_stdinFd);
    m_stdinFd = -1;
}

void ChildProcess::watchStream(Stream &s)
{
    if (s.fd < 0 || s.watch || s.paused)
        return;
    s.watch = m_sup.watch(s.fd, EPOLLIN, guarded([this, &s](uint32_t) { readStream(s); }));
}

void ChildProcess::readStream(Stream &s)
{
    const std::weak_ptr<int> alive = m_alive;
    const ReadResult r = readAvailable(s.fd, [&](const char *data, ssize_t n) {
        s.handler(data, size_t(n));
        return !alive.expired() && !s.paused; // a pause from the handler stops reading at once
    });
    if (alive.expired())
        return;
    if (r == ReadResult::Eof) {
        s.handler(nullptr, 0); // the end of the stream
        if (alive.expired())
            return;
        closeStream(s);
        finishIfDone();
    }
}

void ChildProcess::closeStream(Stream &s)
{
    if (s.watch)
        m_sup.unwatch(s.watch);
    s.watch = 0;
    if (s.fd >= 0)
        ::close(s.fd);
    s.fd = -1;
}

void ChildProcess::setPaused(Stream &s, bool paused)
{
    if (s.paused == paused)
        return;
    s.paused = paused;
    if (paused) {
        // Unwatched rather than masked: epoll reports a hung-up pipe whatever the mask.
        if (s.watch)
            m_sup.unwatch(s.watch);
        s.watch = 0;
    } else {
        watchStream(s);
    }
}

void ChildProcess::drainOutput()
{
    for (int round = 0; round < 4; ++round) {
        pollfd fds[2] = { { m_out.watch ? m_out.fd : -1, POLLIN, 0 },
            { m_err.watch ? m_err.fd : -1, POLLIN, 0 } };
        if (::poll(fds, 2, 0) <= 0)
            return;
        const std::weak_ptr<int> alive = m_alive;
        if (fds[0].revents)
            readStream(m_out);
        if (alive.expired())
            return;
        if (fds[1].revents)
            readStream(m_err);
        if (alive.expired())
            return;
    }
}

ProcessInfo ChildProcess::sample() const
{
    return sampleProcess(m_pid);
}

void ChildProcess::stop(StopPolicy policy)
{
    if (m_reaped)
        return;
    m_stopping = true;
    if (!m_stopSequence)
        m_stopSequence = std::make_unique<StopSequence>(StopSequence::Actions {
            [this](int signal) { m_tree->signalAll(signal); }, [this] { m_tree->killAll(); } });
    m_stopSequence->start(std::move(policy));
}

void ChildProcess::onPidfd()
{
    // The main process has exited (a zombie still, so its group id stays valid): everything
    // left of its tree goes now, then it is reaped.
    m_tree->killAll();
    siginfo_t info {};
    if (::waitid(P_PIDFD, id_t(m_pidfd), &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0)
        return; // not yet
    m_reaped = true;
    m_tree->reaped();
    const bool signalled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
    m_status.exitCode = signalled ? -1 : info.si_status;
    m_status.signal = signalled ? info.si_status : 0;
    m_sup.unwatch(m_pidWatch);
    m_pidWatch = 0;
    ::close(m_pidfd);
    m_pidfd = -1;
    if (m_stopSequence)
        m_stopSequence->cancel();
    finishIfDone();
}

void ChildProcess::finishIfDone()
{
    if (!m_reaped)
        return;
    if (m_out.fd >= 0 || m_err.fd >= 0) {
        if (!m_lingerTimer)
            m_lingerTimer = m_sup.addTimer(lingerAfterExit, guarded([this] {
                m_lingerTimer = 0;
                if (m_out.paused || m_err.paused)
                    return finishIfDone(); // the consumer is behind: wait
                drainOutput();
                closeStream(m_out);
                closeStream(m_err);
                finishIfDone();
            }));
        return;
    }
    if (m_lingerTimer)
        m_sup.cancelTimer(m_lingerTimer);
    m_lingerTimer = 0;
    closeStdin();
    const ExitStatus status = m_status; // a copy: the handler may destroy this
    if (auto exited = std::move(m_exited))
        exited(status);
}

} // namespace offload::detail
