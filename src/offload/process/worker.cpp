// The pool's per-process I/O on the supervisor thread: frames in and out, stdout/stderr
// capture, and what a worker's exit means for its calls.
#include "io_p.h"
#include "pool_p.h"
#include "spawn_p.h"

#include <csignal>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

namespace offload::detail {

namespace {
QString str(const QJsonObject &h, const char *key) { return h.value(QLatin1String(key)).toString(); }

// A protocol integer: JSON numbers are doubles, and converting one outside qint64's range is
// undefined behaviour, so values are clamped to the ±2^53 the protocol allows (NaN cannot
// occur in JSON; non-numbers give 0).
qint64 jsonInteger(const QJsonValue &v)
{
    constexpr double limit = 9007199254740992.0; // 2^53
    return qint64(std::clamp(v.toDouble(0), -limit, limit));
}
} // namespace

// Frames queued during one supervisor iteration go out together (flushPending), so a burst
// of pipelined calls costs one write per worker instead of one per call.
void PoolImpl::write(WorkerProc &w, const std::string &frame)
{
    if (w.sock < 0)
        return;
    w.writeBuf.append(frame);
    m_sup.expectAnswer();
    if (!w.flushQueued) {
        w.flushQueued = true;
        m_sup.deferFlush([self = shared_from_this(), index = w.index] {
            if (WorkerProc *w = self->worker(index)) {
                w->flushQueued = false;
                self->flush(*w);
            }
        });
    }
}

void PoolImpl::flush(WorkerProc &w)
{
    while (w.writeOff < w.writeBuf.size()) {
        const char *data = w.writeBuf.data() + w.writeOff;
        const size_t size = w.writeBuf.size() - w.writeOff;
        // MSG_NOSIGNAL: a dead worker gives EPIPE, not SIGPIPE in the application.
        const ssize_t n = spec.stdioChannel ? ::write(w.sock, data, size) : ::send(w.sock, data, size, MSG_NOSIGNAL);
        if (n > 0) {
            w.writeOff += size_t(n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!w.watchingWrite) {
                w.watchingWrite = true;
                m_sup.modify(w.wSock, EPOLLIN | EPOLLOUT);
            }
            return;
        }
        // EPIPE and friends: the worker is going away; its exit is handled through the pidfd.
        w.writeBuf.clear();
        w.writeOff = 0;
        return;
    }
    w.writeBuf.clear();
    w.writeOff = 0;
    if (w.watchingWrite) {
        w.watchingWrite = false;
        m_sup.modify(w.wSock, EPOLLIN);
    }
}

void PoolImpl::onSocket(WorkerProc &w, uint32_t events)
{
    if (events & EPOLLOUT)
        flush(w);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    const int fd = spec.stdioChannel ? w.outFd : w.sock;
    const int index = w.index;
    const ReadResult result = readAvailable(fd, [&](const char *data, ssize_t n) {
        w.decoder->feed(data, size_t(n));
        while (auto frame = w.decoder->next()) {
            handleFrame(w, *frame);
            if (!m_workers.count(index) || !w.failure.isEmpty())
                return false; // replaced or failed: w must not be touched again
        }
        if (w.decoder->hasError()) {
            protocolFailure(w, QString::fromStdString(w.decoder->error()));
            return false;
        }
        return true;
    });
    if (result == ReadResult::Eof) {
        // The worker closed its end; its exit status arrives through the pidfd.
        m_sup.unwatch(w.wSock);
        w.wSock = 0;
    }
}

void PoolImpl::handleFrame(WorkerProc &w, protocol::Frame<QJsonObject> &frame)
{
    const QJsonObject &h = frame.header;
    const QString type = str(h, "type");
    if (w.state == WorkerProc::Starting) {
        if (type != QLatin1String("hello"))
            return protocolFailure(w, QStringLiteral("expected hello, got '%1'").arg(type), ErrorKind::Launch);
        const int version = h.value(QLatin1String("protocol")).toInt(-1);
        if (version != protocol::version) {
            w.versionMismatch = true;
            return protocolFailure(w, QStringLiteral("worker speaks protocol %1, the pool %2").arg(version).arg(protocol::version),
                                   ErrorKind::Launch);
        }
        w.concurrency = std::max(1, h.value(QLatin1String("concurrency")).toInt(1));
        w.state = WorkerProc::Ready;
        m_consecutiveStartFailures = 0;
        m_lastStartupMs = std::chrono::duration<double, std::milli>(Supervisor::Clock::now() - w.spawnedAt).count();
        if (w.helloTimer) {
            m_sup.cancelTimer(w.helloTimer);
            w.helloTimer = 0;
        }
        dispatch();
        armIdle(w);
        return;
    }
    const qint64 rawId = jsonInteger(h.value(QLatin1String("id")));
    const quint64 id = rawId > 0 ? quint64(rawId) : 0; // 0 is never a call id
    if (type == QLatin1String("progress") || type == QLatin1String("log")) {
        auto it = w.outstanding.find(id);
        if (it == w.outstanding.end()) {
            if (type == QLatin1String("log") && !h.contains(QLatin1String("id")))
                return; // a worker-wide log line: kept nowhere yet
            return protocolFailure(w, QStringLiteral("%1 for unknown call id %2").arg(type).arg(id));
        }
        auto &core = *it->second->core;
        if (type == QLatin1String("log")) {
            core.appendOutput(OutputChunk::Log, (str(h, "text") + QLatin1Char('\n')).toUtf8());
            return;
        }
        core.updateProgress([&](Progress &p) {
            if (h.contains(QLatin1String("fraction"))) {
                const double f = std::clamp(h.value(QLatin1String("fraction")).toDouble(), 0.0, 1.0);
                p.minimum = 0;
                p.maximum = 1'000'000;
                p.value = qint64(f * 1'000'000);
            }
            if (h.contains(QLatin1String("max"))) {
                p.minimum = jsonInteger(h.value(QLatin1String("min")));
                p.maximum = jsonInteger(h.value(QLatin1String("max")));
            }
            if (h.contains(QLatin1String("value")))
                p.value = jsonInteger(h.value(QLatin1String("value")));
            if (h.contains(QLatin1String("text")))
                p.text = str(h, "text");
            if (h.value(QLatin1String("stage")).isObject()) {
                const QJsonObject st = h.value(QLatin1String("stage")).toObject();
                p.stage = Stage{str(st, "name"), st.value(QLatin1String("index")).toInt(-1),
                                st.value(QLatin1String("count")).toInt(0)};
            }
        });
        return;
    }
    if (type == QLatin1String("result") || type == QLatin1String("error")) {
        if (!w.outstanding.count(id))
            return protocolFailure(w, QStringLiteral("%1 for unknown call id %2").arg(type).arg(id));
        finishCall(w, id, h, QByteArray(frame.payload.data(), qsizetype(frame.payload.size())),
                   type == QLatin1String("error"));
        return;
    }
    if (type == QLatin1String("ping")) {
        write(w, encodeQtFrame({{QStringLiteral("type"), QStringLiteral("pong")}, {QStringLiteral("seq"), h.value(QLatin1String("seq"))}}));
        return;
    }
    if (type == QLatin1String("pong") || type == QLatin1String("hello"))
        return;
    protocolFailure(w, QStringLiteral("unknown message type '%1'").arg(type));
}

void PoolImpl::finishCall(WorkerProc &w, quint64 id, const QJsonObject &h, QByteArray payload, bool error)
{
    drain(w); // output the worker wrote before answering belongs to this call
    m_sup.expectAnswer(); // the GUI's next call often follows its result closely
    auto call = std::move(w.outstanding[id]);
    w.outstanding.erase(id);
    detach(*call);
    auto &core = *call->core;
    if (call->cancelling || core.isCancellationRequested()) {
        core.finishCancelled();
    } else if (!error) {
        core.finishWith(WorkerResult{h.value(QLatin1String("value")), std::move(payload)});
    } else {
        Error e;
        e.kind = ErrorKind::WorkerError;
        e.message = str(h, "message");
        e.origin = str(h, "origin");
        e.traceback = str(h, "traceback");
        e.stderrTail = w.err.tail(4096);
        core.fail(e);
    }
    // The worker answered: any cancel escalation against it is moot once it is idle.
    if (w.outstanding.empty() && w.state == WorkerProc::Ready) {
        for (uint64_t *t : {&w.termTimer, &w.killTimer}) {
            if (*t) {
                m_sup.cancelTimer(*t);
                *t = 0;
            }
        }
    }
    dispatch();
    armIdle(w);
}

// A call leaves its worker (answered, or the worker died): its timeout no longer applies.
void PoolImpl::detach(CallState &call)
{
    call.worker = nullptr;
    if (call.timeoutTimer) {
        m_sup.cancelTimer(call.timeoutTimer);
        call.timeoutTimer = 0;
    }
}

void PoolImpl::onOutput(WorkerProc &w, bool isStderr)
{
    const auto result = readAvailable(isStderr ? w.errFd : w.outFd, [&](const char *data, ssize_t n) {
        (isStderr ? w.err : w.out).append(data, n);
        const QByteArray chunk(data, qsizetype(n));
        for (auto &[id, call] : w.outstanding)
            call->core->appendOutput(isStderr ? OutputChunk::Stderr : OutputChunk::Stdout, chunk);
        return true;
    });
    if (result == ReadResult::Eof) { // stop watching; the fd is closed with the worker
        uint64_t &token = isStderr ? w.wErr : w.wOut;
        m_sup.unwatch(token);
        token = 0;
    }
}

// Kills a worker that broke the protocol (or never said hello); its calls fail with the reason
// once its exit is seen, and it is replaced.
void PoolImpl::protocolFailure(WorkerProc &w, const QString &reason, ErrorKind kind)
{
    if (!w.failure.isEmpty())
        return;
    w.failure = reason;
    w.failureKind = kind;
    w.state = WorkerProc::Stopping;
    if (w.wSock) {
        m_sup.unwatch(w.wSock);
        w.wSock = 0;
    }
    signalGroup(w.pid, SIGKILL);
}

// One poll() tells whether either output pipe has data; reading both blindly would cost two
// failed reads per call.
void PoolImpl::drain(WorkerProc &w)
{
    pollfd fds[2] = {{w.wErr ? w.errFd : -1, POLLIN, 0},
                     {(w.wOut && !spec.stdioChannel) ? w.outFd : -1, POLLIN, 0}};
    if (::poll(fds, 2, 0) <= 0)
        return;
    if (fds[0].revents)
        onOutput(w, true);
    if (fds[1].revents)
        onOutput(w, false);
}

Error PoolImpl::crashError(const WorkerProc &w, int code, bool signalled) const
{
    Error e;
    e.kind = ErrorKind::Crash;
    e.origin = spec.program;
    if (signalled) {
        e.signal = code;
        e.message = QStringLiteral("worker %1 (pid %2) was killed by signal %3 (%4)")
                            .arg(name).arg(w.pid).arg(code).arg(QString::fromLocal8Bit(::strsignal(code)));
    } else {
        e.exitCode = code;
        e.message = QStringLiteral("worker %1 (pid %2) exited with code %3 during the call").arg(name).arg(w.pid).arg(code);
    }
    e.stderrTail = w.err.tail(4096);
    return e;
}

void PoolImpl::onExit(WorkerProc &w)
{
    const auto self = shared_from_this(); // finishing the shutdown may release the last owner
    siginfo_t info{};
    if (::waitid(P_PIDFD, id_t(w.pidfd), &info, WEXITED | WNOHANG) != 0 || info.si_pid == 0)
        return; // not yet (spurious wake-up)
    drain(w);
    const bool signalled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
    const int code = info.si_status;
    const bool neverReady = w.state == WorkerProc::Starting || (!w.failure.isEmpty() && w.failureKind == ErrorKind::Launch);
    const auto outstanding = std::move(w.outstanding);
    w.outstanding.clear();

    QString reason;
    if (!w.failure.isEmpty())
        reason = w.failure;
    else if (signalled)
        reason = QStringLiteral("killed by signal %1").arg(code);
    else
        reason = QStringLiteral("exited with code %1").arg(code);

    for (const auto &[id, call] : outstanding) {
        detach(*call);
        auto &core = *call->core;
        if (call->cancelling || core.isCancellationRequested()) {
            core.finishCancelled();
        } else if (!w.failure.isEmpty()) {
            Error e;
            e.kind = w.failureKind;
            e.origin = spec.program;
            e.message = QStringLiteral("worker %1 (pid %2): %3").arg(name).arg(w.pid).arg(w.failure);
            e.stderrTail = w.err.tail(4096);
            core.fail(e);
        } else if (call->attempts < spec.maxAttempts && !m_stopping) {
            m_queue[call->priority].push_front(call); // retried on a fresh worker
        } else {
            core.fail(crashError(w, code, signalled));
        }
    }

    const bool unexpected = !w.expectedExit || !w.failure.isEmpty();
    // A program that exits, stays silent or speaks another protocol version instead of
    // becoming a worker: if that repeats (twice in a row; a version mismatch cannot change)
    // and no worker is up, what waits fails now with the reason. A worker killed by a signal
    // while starting is a crash like any other: retried within the restart limit, which ends
    // a crash loop with the pool broken.
    const bool startFailure = neverReady && (!w.failure.isEmpty() || !signalled);
    if (startFailure && !m_stopping) {
        ++m_consecutiveStartFailures;
        bool anyReady = false;
        for (auto &[i, other] : m_workers)
            anyReady |= other.get() != &w && other->state == WorkerProc::Ready;
        const bool persistent = m_consecutiveStartFailures >= 2 || w.versionMismatch;
        if (!anyReady && persistent) {
            Error e;
            e.kind = ErrorKind::Launch;
            e.origin = spec.program;
            e.message = QStringLiteral("worker %1 (pid %2) did not start: %3").arg(name).arg(w.pid).arg(reason);
            e.stderrTail = w.err.tail(4096);
            if (signalled)
                e.signal = code;
            else
                e.exitCode = code;
            failQueued(e);
        }
    }
    const int index = w.index;
    releaseWorker(w);
    m_workers.erase(index);
    if (unexpected && !m_stopping)
        noteUnexpectedExit(reason);
    if (m_stopping) {
        if (m_workers.empty() && m_stopped) {
            // Moved out first: set_value wakes the destructor, which may drop its reference.
            auto done = std::move(m_stopped);
            done->set_value();
        }
        return;
    }
    maintain();
}

void PoolImpl::releaseWorker(WorkerProc &w)
{
    for (uint64_t *t : {&w.helloTimer, &w.termTimer, &w.killTimer, &w.idleTimer}) {
        if (*t)
            m_sup.cancelTimer(*t);
        *t = 0;
    }
    for (uint64_t *token : {&w.wSock, &w.wOut, &w.wErr, &w.wPid}) {
        if (*token)
            m_sup.unwatch(*token);
        *token = 0;
    }
    for (int *fd : {&w.sock, &w.outFd, &w.errFd, &w.pidfd}) {
        if (*fd >= 0)
            ::close(*fd);
        *fd = -1;
    }
}

} // namespace offload::detail
