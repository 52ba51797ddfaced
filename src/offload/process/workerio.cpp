// The pool's per-process I/O on the supervisor thread: frames in and out, stdout/stderr
// capture, and what a worker's exit means for its calls.
#include "bufferframes_p.h"
#include "io_p.h"
#include "pool_p.h"

#include <offload/workersdk/memoryfile.h>

#include <QLoggingCategory>

#include <cmath>
#include <csignal>
#include <cstring>

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcWorkerLog, "offload.worker.log")

namespace offload::detail {

namespace {
QString str(const QJsonObject &h, const char *key)
{
    return h.value(QLatin1String(key)).toString();
}

// A protocol integer: JSON numbers are doubles, and converting one outside qint64's range is
// undefined behaviour, so values are clamped to the ±2^53 the protocol allows (NaN cannot
// occur in JSON; non-numbers give 0).
qint64 jsonInteger(const QJsonValue &v)
{
    constexpr double limit = 9007199254740992.0; // 2^53
    return qint64(std::clamp(v.toDouble(0), -limit, limit));
}

// A call id: a positive integer up to 2^53, exactly; anything else (1.5, "1", -1) is 0.
quint64 callId(const QJsonValue &v)
{
    const double d = v.toDouble(-1);
    if (!v.isDouble() || !(d >= 1) || d > 9007199254740992.0 || d != std::floor(d))
        return 0;
    return quint64(d);
}
} // namespace

// Frames queued during one supervisor iteration go out together (flush), so a burst of
// pipelined calls costs one write per worker instead of one per call.
void PoolImpl::write(WorkerProc &w, const std::string &frame, std::vector<SharedBuffer> attach)
{
    if (w.state == WorkerProc::Stopping && !w.failure.isEmpty())
        return; // being killed: nothing more to say
    if (!attach.empty())
        w.attachments.push_back({ w.writeBuf.size(), std::move(attach) });
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

// Writes as much as the channel takes; a full pipe or socket is resumed when it is writable
// again (EPOLLOUT), so a frame of any size goes out in pieces.
void PoolImpl::flush(WorkerProc &w)
{
    const int fd = spec.stdioChannel ? (w.child ? w.child->stdinFd() : -1) : w.sock;
    while (fd >= 0 && w.writeOff < w.writeBuf.size()) {
        const char *data = w.writeBuf.data() + w.writeOff;
        size_t size = w.writeBuf.size() - w.writeOff;
        // A frame with descriptors starts a send of its own, which carries them with its first
        // byte; the bytes before it go first, without.
        std::vector<int> fds;
        if (!w.attachments.empty()) {
            const auto &next = w.attachments.front();
            if (next.offset > w.writeOff) {
                size = next.offset - w.writeOff;
            } else {
                for (const SharedBuffer &b : next.buffers)
                    fds.push_back(b.fileDescriptor());
                if (w.attachments.size() > 1)
                    size = w.attachments[1].offset - w.writeOff;
            }
        }
        // MSG_NOSIGNAL: a dead worker gives EPIPE, not SIGPIPE in the application (the
        // supervisor thread blocks SIGPIPE for the pipe of the stdio channel).
        const ssize_t n = spec.stdioChannel ? ::write(fd, data, size)
            : fds.empty()                   ? ::send(fd, data, size, MSG_NOSIGNAL)
                          : protocol::sendWithDescriptors(fd, data, size, fds.data(), fds.size());
        if (n > 0) {
            w.writeOff += size_t(n);
            if (!fds.empty())
                w.attachments.pop_front(); // sent: the worker holds its own references now
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!w.watchingWrite) {
                w.watchingWrite = true;
                if (spec.stdioChannel)
                    w.wStdin = watchWorker(
                        fd, w.index, [this](WorkerProc &w, uint32_t) { flush(w); }, EPOLLOUT);
                else
                    m_sup.modify(w.wSock, EPOLLIN | EPOLLOUT);
            }
            return;
        }
        // EPIPE and friends: the worker is going away; its exit is handled from the child.
        // Anything else (too many descriptors in flight, no buffer space) leaves a live worker
        // that will never see these calls: it is failed, and its calls with it.
        const int why = n < 0 ? errno : 0;
        if (why != 0 && why != EPIPE && why != ECONNRESET && w.failure.isEmpty()) {
            w.writeBuf.clear();
            w.writeOff = 0;
            w.attachments.clear();
            return protocolFailure(w,
                QStringLiteral("cannot send to the worker: %1")
                    .arg(QString::fromLocal8Bit(std::strerror(why))));
        }
        break;
    }
    w.writeBuf.clear();
    w.writeOff = 0;
    w.attachments.clear(); // a worker going away: what was not sent is not held
    if (w.watchingWrite) {
        w.watchingWrite = false;
        if (spec.stdioChannel) {
            m_sup.unwatch(w.wStdin);
            w.wStdin = 0;
        } else {
            m_sup.modify(w.wSock, EPOLLIN);
        }
    }
}

void PoolImpl::onSocket(WorkerProc &w, uint32_t events)
{
    if (events & EPOLLOUT)
        flush(w);
    if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
        return;
    // Descriptors come with the bytes (a worker's shared buffers): they wait in receivedFds
    // for the frame that names them, which arrives with them or after them, never before.
    const int index = w.index;
    char buf[65536];
    for (int chunks = 0; chunks < 16;) {
        bool refused = false;
        const ssize_t n = protocol::receiveWithDescriptors(
            w.sock, buf, sizeof buf, MSG_DONTWAIT, w.receivedFds, refused);
        if (refused || w.receivedFds.size() > protocol::maxPendingDescriptors)
            return protocolFailure(w,
                QStringLiteral("sent more file descriptors than its frames name (or other "
                               "ancillary data)"));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return; // drained (or an error the exit path will explain)
        if (n == 0)
            return onChannelClosed(w);
        ++chunks;
        onChannelBytes(w, buf, size_t(n));
        if (!m_workers.count(index) || !w.failure.isEmpty())
            return; // replaced or failed: stop
    }
}

void PoolImpl::onChannelBytes(WorkerProc &w, const char *data, size_t size)
{
    if (!w.failure.isEmpty())
        return;
    const int index = w.index;
    w.lastHeard = Supervisor::Clock::now();
    w.decoder->feed(data, size);
    while (auto frame = w.decoder->next()) {
        handleFrame(w, *frame);
        if (!m_workers.count(index) || !w.failure.isEmpty())
            return; // replaced or failed: w must not be touched again
    }
    if (w.decoder->hasError())
        protocolFailure(w, QString::fromStdString(w.decoder->error()));
}

// The worker closed its end of the channel. A dying process does that a moment before its
// exit is seen, and the exit then explains its calls' fate; one that is still alive after
// channelClosedGrace can never answer: with a call outstanding (or before hello) that is a
// protocol failure of those calls, and idle it is made to go.
void PoolImpl::onChannelClosed(WorkerProc &w)
{
    constexpr std::chrono::milliseconds channelClosedGrace { 1000 };
    if (w.wSock) {
        m_sup.unwatch(w.wSock);
        w.wSock = 0;
    }
    if (!w.failure.isEmpty() || w.state == WorkerProc::Stopping || w.channelClosedTimer)
        return;
    w.channelClosedTimer = workerTimer(channelClosedGrace, w.index, [this](WorkerProc &w) {
        w.channelClosedTimer = 0;
        if (!w.failure.isEmpty() || w.state == WorkerProc::Stopping)
            return;
        if (w.state == WorkerProc::Starting)
            return protocolFailure(w,
                QStringLiteral("closed its channel before saying hello and stayed alive"),
                ErrorKind::Launch);
        if (!w.outstanding.empty())
            return protocolFailure(w,
                QStringLiteral("closed its channel with %1 call(s) outstanding and stayed alive")
                    .arg(w.outstanding.size()));
        w.state = WorkerProc::Stopping;
        w.child->stop(terminateThenKill(spec.cancelGrace));
    });
}

void PoolImpl::handleFrame(WorkerProc &w, protocol::Frame<QJsonObject> &frame)
{
    const QJsonObject &h = frame.header;
    const QString type = str(h, "type");
    if (w.state == WorkerProc::Starting) {
        if (type != QLatin1String("hello"))
            return protocolFailure(w, QStringLiteral("expected hello, got '%1'").arg(type));
        const int version = h.value(QLatin1String("protocol")).toInt(-1);
        if (version != protocol::version) {
            w.versionMismatch = true;
            return protocolFailure(w,
                QStringLiteral("worker speaks protocol %1, the pool %2")
                    .arg(version)
                    .arg(protocol::version),
                ErrorKind::Launch);
        }
        w.concurrency = std::max(1, h.value(QLatin1String("concurrency")).toInt(1));
        w.fdPassing = !spec.stdioChannel && h.value(QLatin1String("fd_passing")).toBool(false);
        w.state = WorkerProc::Ready;
        w.everReady = true;
        m_consecutiveStartFailures = 0;
        m_lastStartupMs
            = std::chrono::duration<double, std::milli>(Supervisor::Clock::now() - w.spawnedAt)
                  .count();
        if (w.helloTimer) {
            m_sup.cancelTimer(w.helloTimer);
            w.helloTimer = 0;
        }
        dispatch();
        armIdle(w);
        return;
    }
    const bool hasId = h.contains(QLatin1String("id"));
    const quint64 id = callId(h.value(QLatin1String("id")));
    if (hasId && id == 0)
        return protocolFailure(
            w, QStringLiteral("'%1' with an invalid call id (not a positive integer)").arg(type));
    if (type == QLatin1String("log") && !hasId) {
        // A worker-wide line (not about one call): to every call it has, and to the log.
        const QString text = str(h, "text");
        qCInfo(lcWorkerLog, "%s[%lld]: %s", qPrintable(name), qint64(w.pid), qPrintable(text));
        const QByteArray line = (text + QLatin1Char('\n')).toUtf8();
        for (auto &[callId, call] : w.outstanding)
            (void)call->task->appendOutput(OutputChunk::Log, line);
        return;
    }
    if (type == QLatin1String("progress") || type == QLatin1String("log")) {
        auto it = w.outstanding.find(id);
        if (it == w.outstanding.end())
            return protocolFailure(
                w, QStringLiteral("%1 for unknown call id %2").arg(type).arg(id));
        auto &task = *it->second->task;
        if (type == QLatin1String("log")) {
            // Log lines are small and rare; a worker flooding them is cut by the core's bound.
            (void)task.appendOutput(
                OutputChunk::Log, (str(h, "text") + QLatin1Char('\n')).toUtf8());
            return;
        }
        task.updateProgress([&](Progress &p) {
            if (h.contains(QLatin1String("fraction")))
                p.setFraction(h.value(QLatin1String("fraction")).toDouble());
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
                p.stage = Stage { str(st, "name"), st.value(QLatin1String("index")).toInt(-1),
                    st.value(QLatin1String("count")).toInt(0) };
            }
        });
        return;
    }
    if (type == QLatin1String("frame"))
        return onWorkerFrame(
            w, id, h, QByteArray(frame.payload.data(), qsizetype(frame.payload.size())));
    if (type == QLatin1String("result") || type == QLatin1String("error")) {
        if (!w.outstanding.count(id))
            return protocolFailure(
                w, QStringLiteral("%1 for unknown call id %2").arg(type).arg(id));
        QByteArray payload(frame.payload.data(), qsizetype(frame.payload.size()));
        std::vector<SharedBuffer> buffers;
        QString why;
        if (!takeFrameBuffers(
                h, payload, w.receivedFds, buffers, why, &w.mappings, w.outstanding[id]->buffers))
            return protocolFailure(
                w, QStringLiteral("%1 for call %2: %3").arg(type).arg(id).arg(why));
        finishCall(
            w, id, h, std::move(payload), std::move(buffers), type == QLatin1String("error"));
        return;
    }
    if (type == QLatin1String("ping")) {
        write(w,
            encodeQtFrame({ { QStringLiteral("type"), QStringLiteral("pong") },
                { QStringLiteral("seq"), h.value(QLatin1String("seq")) } }));
        return;
    }
    if (type == QLatin1String("pong") || type == QLatin1String("hello"))
        return; // pong: heard from (lastHeard is set for every frame)
    protocolFailure(w, QStringLiteral("unknown message type '%1'").arg(type));
}

void PoolImpl::finishCall(WorkerProc &w, quint64 id, const QJsonObject &h, QByteArray payload,
    std::vector<SharedBuffer> buffers, bool error)
{
    w.child->drainOutput(); // output the worker wrote before answering belongs to this call
    if (!m_workers.count(w.index) || !w.outstanding.count(id))
        return;
    m_sup.expectAnswer(); // the GUI's next call often follows its result closely
    auto call = std::move(w.outstanding[id]);
    w.outstanding.erase(id);
    w.everAnswered = true;
    detach(*call);
    auto &task = *call->task;
    if (call->cancelling || task.isCancellationRequested()) {
        task.finishCancelled();
    } else if (!error) {
        task.finish(WorkerResult {
            h.value(QLatin1String("value")), std::move(payload), std::move(buffers) });
    } else {
        Error e;
        e.kind = ErrorKind::WorkerError;
        e.message = str(h, "message");
        e.origin = str(h, "origin");
        e.traceback = str(h, "traceback");
        e.stderrTail = w.err.tail(4096);
        task.fail(e);
    }
    // Escalation is only for calls that ignore cancel: once none is left, it is moot.
    const bool stillCancelling = std::any_of(w.outstanding.begin(), w.outstanding.end(),
        [](const auto &entry) { return entry.second->cancelling; });
    if (!stillCancelling && w.escalationTimer && w.state == WorkerProc::Ready) {
        m_sup.cancelTimer(w.escalationTimer);
        w.escalationTimer = 0;
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

void PoolImpl::onOutput(WorkerProc &w, bool isStderr, const char *data, size_t size)
{
    if (size == 0)
        return; // end of stream; the fd is closed with the worker
    (isStderr ? w.err : w.out).append(data, qint64(size));
    const QByteArray chunk(data, qsizetype(size));
    // A worker's stdout/stderr is a log, not a result: bounded by the core, never paused.
    for (auto &[id, call] : w.outstanding)
        (void)call->task->appendOutput(isStderr ? OutputChunk::Stderr : OutputChunk::Stdout, chunk);
}

// Kills a worker that broke the protocol (or never said hello, or stopped answering); its
// calls fail with the reason once its exit is seen, and it is replaced.
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
    w.child->stop({ StopStep::kill() });
}

// While a worker has calls: a ping every third of the timeout; silence for the whole timeout
// means it is wedged.
void PoolImpl::armHeartbeat(WorkerProc &w)
{
    if (spec.heartbeatTimeout.count() <= 0 || w.heartbeatTimer)
        return;
    const auto period = std::max(std::chrono::milliseconds(1), spec.heartbeatTimeout / 3);
    w.heartbeatTimer = workerTimer(period, w.index, [this](WorkerProc &w) {
        w.heartbeatTimer = 0;
        if (w.outstanding.empty() || w.state != WorkerProc::Ready)
            return;
        if (Supervisor::Clock::now() - w.lastHeard >= spec.heartbeatTimeout)
            return protocolFailure(w,
                QStringLiteral(
                    "sent nothing for %1 ms (heartbeat timeout); it was killed as wedged")
                    .arg(spec.heartbeatTimeout.count()),
                ErrorKind::Timeout);
        write(w,
            encodeQtFrame({ { QStringLiteral("type"), QStringLiteral("ping") },
                { QStringLiteral("seq"), qint64(++w.pingSeq) } }));
        armHeartbeat(w);
    });
}

Error PoolImpl::crashError(const WorkerProc &w, const ExitStatus &status) const
{
    Error e;
    e.kind = ErrorKind::Crash;
    e.origin = spec.program;
    if (status.signal) {
        e.signal = status.signal;
        e.message = QStringLiteral("worker %1 (pid %2) was killed by signal %3 (%4)")
                        .arg(name)
                        .arg(w.pid)
                        .arg(status.signal)
                        .arg(QString::fromLocal8Bit(::strsignal(status.signal)));
    } else {
        e.exitCode = status.exitCode;
        e.message = QStringLiteral("worker %1 (pid %2) exited with code %3 during the call")
                        .arg(name)
                        .arg(w.pid)
                        .arg(status.exitCode);
    }
    e.stderrTail = w.err.tail(4096);
    return e;
}

void PoolImpl::onExit(WorkerProc &w, const ExitStatus &status)
{
    const auto self = shared_from_this(); // finishing the shutdown may release the last owner
    const bool signalled = status.signal != 0;
    const bool neverReady = !w.everReady;
    const auto outstanding = std::move(w.outstanding);
    w.outstanding.clear();

    if (status.failure && w.failure.isEmpty()) { // the launcher's: never retried on its own
        w.failure = status.failure->message;
        w.failureKind = status.failure->kind;
    }
    Error failure;
    failure.origin = spec.program;
    failure.stderrTail = w.err.tail(4096);
    if (status.failure) {
        const QByteArray tail = failure.stderrTail;
        failure = *status.failure;
        if (failure.stderrTail.isEmpty())
            failure.stderrTail = tail;
    } else if (!w.failure.isEmpty()) {
        failure.kind = w.failureKind;
        failure.message
            = QStringLiteral("worker %1 (pid %2): %3").arg(name).arg(w.pid).arg(w.failure);
    } else {
        failure = crashError(w, status);
    }

    for (const auto &[id, call] : outstanding) {
        detach(*call);
        auto &task = *call->task;
        if (call->cancelling || task.isCancellationRequested()) {
            task.finishCancelled();
        } else if (!w.failure.isEmpty()) {
            task.fail(failure);
        } else if (w.killedForCancel && !m_stopping) {
            --call->attempts; // innocent: its worker was stopped for another call's sake
            m_queue[call->priority].push_front(call);
        } else if (call->attempts < spec.maxAttempts && !m_stopping) {
            m_queue[call->priority].push_front(call); // retried on a fresh worker
        } else {
            task.fail(failure);
        }
    }

    // A worker that leaves by itself with code 0 while idle is not a failure (it may be
    // designed to); everything else we did not ask for is, start failures included.
    const bool cleanIdleExit
        = w.state == WorkerProc::Ready && outstanding.empty() && !signalled && status.exitCode == 0;
    const bool unexpected
        = !w.failure.isEmpty() || (!w.expectedExit && !w.killedForCancel && !cleanIdleExit);
    // A program that exits, stays silent, sends garbage or speaks another protocol version
    // instead of becoming a worker: if that happens twice in a row (a version mismatch cannot
    // change, once is enough) and no worker is up, what waits fails now with the reason.
    // A worker killed by a signal while starting is a crash like any other: retried within
    // the restart limit.
    const bool startFailure = neverReady && (!w.failure.isEmpty() || !signalled);
    if (startFailure && !m_stopping) {
        ++m_consecutiveStartFailures;
        bool anyReady = false;
        for (auto &[i, other] : m_workers)
            anyReady |= other.get() != &w && other->state == WorkerProc::Ready;
        if (!anyReady && (m_consecutiveStartFailures >= 2 || w.versionMismatch)) {
            Error e = failure;
            if (w.failure.isEmpty()) { // it exited on its own before hello
                e = Error {};
                e.kind = ErrorKind::Launch;
                e.origin = spec.program;
                e.message
                    = QStringLiteral("worker %1 (pid %2) did not start: %3")
                          .arg(name)
                          .arg(w.pid)
                          .arg(signalled
                                  ? QStringLiteral("killed by signal %1").arg(status.signal)
                                  : QStringLiteral("exited with code %1").arg(status.exitCode));
                e.stderrTail = w.err.tail(4096);
                if (signalled)
                    e.signal = status.signal;
                else
                    e.exitCode = status.exitCode;
            }
            failQueued(e);
        }
    }
    const int index = w.index;
    const bool answered = w.everAnswered; // w goes with the erase
    releaseWorker(w);
    m_workers.erase(index); // destroys the Process (already reaped)
    if (unexpected && !m_stopping)
        noteUnexpectedExit(failure, !answered);
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
    for (uint64_t *t : { &w.helloTimer, &w.escalationTimer, &w.idleTimer, &w.heartbeatTimer,
             &w.channelClosedTimer }) {
        if (*t)
            m_sup.cancelTimer(*t);
        *t = 0;
    }
    for (uint64_t *token : { &w.wSock, &w.wStdin }) {
        if (*token)
            m_sup.unwatch(*token);
        *token = 0;
    }
    if (w.sock >= 0)
        ::close(w.sock);
    w.sock = -1;
    for (int fd : w.receivedFds)
        ::close(fd);
    w.receivedFds.clear();
    w.attachments.clear();
    w.mappings.clear();
}

} // namespace offload::detail
