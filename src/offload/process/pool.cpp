// WorkerPool facade and the pool's queueing, dispatch, cancellation and shutdown policy.
#include "bufferframes_p.h"
#include "pool_p.h"
#include "spawn_p.h"

#include <offload/workersdk/memoryfile.h>

#include <QCoreApplication>
#include <QFileInfo>
#include <QLoggingCategory>
#include <QThread>

#include <algorithm>
#include <csignal>

#include <fcntl.h>
#include <sys/epoll.h>

#include <sys/socket.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcWorkerPool, "offload.workerpool")

namespace offload {

using namespace detail;

namespace {
// Pools alive, shut down when the application quits (no child outlives QCoreApplication).
std::mutex s_poolsMutex;
std::vector<std::weak_ptr<PoolImpl>> s_pools;
bool s_postRoutineAdded = false;

void shutdownAllPools();

void shutdownPool(const std::shared_ptr<PoolImpl> &impl)
{
    impl->accepting = false;
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    Supervisor::instance().post([impl, done] { impl->shutdown(done); });
    const auto bound = impl->spec.cancelGrace * 2 + std::chrono::seconds(1);
    if (future.wait_for(bound) != std::future_status::ready)
        qCWarning(lcWorkerPool, "%s: workers still not reaped after %lld ms",
            qPrintable(impl->name),
            qint64(std::chrono::duration_cast<std::chrono::milliseconds>(bound).count()));
}

void shutdownAllPools()
{
    std::vector<std::shared_ptr<PoolImpl>> pools;
    {
        std::lock_guard lock(s_poolsMutex);
        for (auto &weak : s_pools)
            if (auto p = weak.lock())
                pools.push_back(std::move(p));
        s_pools.clear();
    }
    for (auto &p : pools)
        shutdownPool(p);
}
} // namespace

WorkerPool::WorkerPool(WorkerPoolSpec spec) : d(std::make_shared<PoolImpl>(std::move(spec)))
{
    {
        std::lock_guard lock(s_poolsMutex);
        s_pools.push_back(d);
        if (!s_postRoutineAdded && QCoreApplication::instance()) {
            s_postRoutineAdded = true;
            qAddPostRoutine(shutdownAllPools);
        }
    }
    Supervisor::instance().post([impl = d] { impl->start(); });
}

WorkerPool::~WorkerPool()
{
    shutdown();
}

void WorkerPool::shutdown()
{
    if (!d->accepting.load())
        return;
    shutdownPool(d);
}

TaskHandle<WorkerResult> WorkerPool::submit(QObject *context, const QString &method,
    const QJsonValue &args, const QByteArray &payload, const CallOptions &options)
{
    return submit(context, WorkerCall { method, args, payload, {} }, options);
}

TaskHandle<WorkerResult> WorkerPool::submit(
    QObject *context, WorkerCall wc, const CallOptions &options)
{
    const QString method = wc.method;
    auto call = std::make_shared<CallState>();
    call->id = d->nextCallId.fetch_add(1);
    call->method = std::move(wc.method);
    call->args = std::move(wc.args);
    call->payload = std::move(wc.payload);
    call->buffers = std::move(wc.buffers);
    if (wc.onFrame)
        call->onFrame = std::make_shared<const std::function<void(const WorkerFrame &)>>(
            std::move(wc.onFrame));
    call->priority = options.priority;
    call->timeout = options.timeout.value_or(d->spec.callTimeout);
    call->task.emplace(context, QStringLiteral("worker"),
        options.name.isEmpty() ? d->name + QLatin1Char('.') + method : options.name);
    auto handle = call->task->handle();
    const bool nullBuffer = std::any_of(call->buffers.begin(), call->buffers.end(),
        [](const SharedBuffer &b) { return b.isNull() || !b.constData(); });
    if (nullBuffer || call->buffers.size() > size_t(protocol::maxBuffersPerFrame)) {
        Error e;
        e.kind = ErrorKind::InvalidInput;
        e.origin = method;
        e.message = nullBuffer
            ? QStringLiteral("a null (or unmapped) SharedBuffer among the call's buffers")
            : QStringLiteral("more than %1 shared buffers in one call")
                  .arg(protocol::maxBuffersPerFrame);
        call->task->fail(e);
        return handle;
    }
    submitToSupervisor(d, std::move(call));
    return handle;
}

WorkerPool::Status WorkerPool::status() const
{
    auto result = std::make_shared<std::promise<Status>>();
    auto future = result->get_future();
    Supervisor::instance().post([impl = d, result] { result->set_value(impl->status()); });
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready)
        return {};
    return future.get();
}

namespace detail {

PoolImpl::PoolImpl(WorkerPoolSpec s)
    : spec([&] {
        if (s.maxWorkers <= 0)
            s.maxWorkers = std::max(1, QThread::idealThreadCount());
        s.minWorkers = std::clamp(s.minWorkers, 0, s.maxWorkers);
        s.prestart = std::clamp(std::max(s.prestart, s.minWorkers), 0, s.maxWorkers);
        s.maxAttempts = std::max(1, s.maxAttempts);
        if (!s.launcher.isLocal())
            s.stdioChannel = true; // no descriptor can be handed over a connection
        return s;
    }())
    , name(spec.name.isEmpty() ? QFileInfo(spec.program).fileName() : spec.name)
    , m_sup(Supervisor::instance())
{ }

void PoolImpl::start()
{
    for (int i = 0; i < spec.prestart && !m_broken; ++i)
        spawnWorker();
}

int PoolImpl::liveWorkers() const
{
    return int(m_workers.size());
}

WorkerProc *PoolImpl::worker(int index)
{
    auto it = m_workers.find(index);
    return it == m_workers.end() ? nullptr : it->second.get();
}

WorkerPool::Status PoolImpl::status() const
{
    WorkerPool::Status s;
    s.workers = liveWorkers();
    for (const auto &[i, w] : m_workers) {
        s.ready += w->state == WorkerProc::Ready ? 1 : 0;
        s.busy += w->outstanding.empty() ? 0 : 1;
        s.pids.push_back(w->child ? w->child->sample().pid : w->pid);
    }
    for (const auto &[p, q] : m_queue)
        s.queued += int(q.size());
    s.restarts = m_restarts;
    s.lastStartupMs = m_lastStartupMs;
    s.broken = m_broken;
    s.brokenError = m_brokenError;
    return s;
}

void PoolImpl::enqueue(std::shared_ptr<CallState> call)
{
    if (isFinalState(call->task->state()))
        return; // cancelled before it reached us
    if (m_broken) {
        call->task->fail(m_brokenError);
        return;
    }
    if (m_stopping) {
        call->task->finishCancelled(); // never started
        return;
    }
    m_queue[call->priority].push_back(std::move(call));
    dispatch();
}

std::shared_ptr<CallState> PoolImpl::takeNextQueued()
{
    while (!m_queue.empty()) {
        auto level = m_queue.begin();
        if (level->second.empty()) {
            m_queue.erase(level);
            continue;
        }
        auto call = std::move(level->second.front());
        level->second.pop_front();
        if (level->second.empty())
            m_queue.erase(level);
        if (!isFinalState(call->task->state()))
            return call;
    }
    return nullptr;
}

void PoolImpl::dispatch()
{
    if (m_stopping || m_broken)
        return;
    for (;;) {
        if (m_queue.empty())
            break;
        WorkerProc *best = nullptr;
        int starting = 0;
        for (auto &[i, w] : m_workers) {
            if (w->state == WorkerProc::Starting)
                ++starting;
            if (w->state != WorkerProc::Ready || int(w->outstanding.size()) >= w->concurrency)
                continue;
            if (!best || w->outstanding.size() < best->outstanding.size())
                best = w.get();
        }
        if (!best) {
            int queued = 0;
            for (const auto &[p, q] : m_queue)
                queued += int(q.size());
            if (starting < queued && liveWorkers() < spec.maxWorkers) {
                spawnWorker();
                if (m_broken)
                    return;
                continue;
            }
            break;
        }
        auto call = takeNextQueued();
        if (!call)
            break;
        send(call, *best);
    }
}

void PoolImpl::send(const std::shared_ptr<CallState> &call, WorkerProc &w)
{
    if (!call->task->start() && isFinalState(call->task->state()))
        return;
    ++call->attempts;
    call->worker = &w;
    w.outstanding.emplace(call->id, call);
    if (w.idleTimer) {
        m_sup.cancelTimer(w.idleTimer);
        w.idleTimer = 0;
    }
    call->task->setProcessInfo(w.lastSample); // never /proc here: that is the sampler's job
    QJsonObject header { { QStringLiteral("type"), QStringLiteral("call") },
        { QStringLiteral("id"), qint64(call->id) }, { QStringLiteral("method"), call->method },
        { QStringLiteral("args"), call->args } };
    if (call->buffers.empty()) {
        write(w, encodeQtFrame(header, call->payload));
    } else {
        BufferFrame frame
            = encodeFrameWithBuffers(header, call->payload, call->buffers, w.fdPassing);
        write(w, frame.bytes, std::move(frame.descriptors));
    }
    if (call->timeout.count() > 0) {
        call->timeoutTimer = m_sup.addTimer(call->timeout, [this, self = shared_from_this(), call] {
            call->timeoutTimer = 0;
            Error e;
            e.kind = ErrorKind::Timeout;
            e.message = QStringLiteral("call %1 exceeded its timeout of %2 ms")
                            .arg(call->method)
                            .arg(call->timeout.count());
            call->task->fail(e);
            sendCancel(*call);
        });
    }
    if (w.lastHeard < w.spawnedAt || w.outstanding.size() == 1)
        w.lastHeard = Supervisor::Clock::now(); // the heartbeat counts from the first call
    armHeartbeat(w);
    if (!m_sampleTimer)
        m_sampleTimer = m_sup.addTimer(std::chrono::milliseconds(500),
            [this, self = shared_from_this()] { sampleProcesses(); });
}

void PoolImpl::cancel(quint64 callId)
{
    for (auto level = m_queue.begin(); level != m_queue.end(); ++level) {
        auto &q = level->second;
        for (auto it = q.begin(); it != q.end(); ++it) {
            if ((*it)->id == callId) {
                auto call = *it;
                q.erase(it);
                if (q.empty())
                    m_queue.erase(level); // an empty level must not stay: dispatch takes front()
                call->task->finishCancelled();
                return;
            }
        }
    }
    for (auto &[i, w] : m_workers) {
        auto it = w->outstanding.find(callId);
        if (it == w->outstanding.end())
            continue;
        sendCancel(*it->second);
        return;
    }
}

// A cancel message to the call's worker, then escalation if it does not answer.
void PoolImpl::sendCancel(CallState &call)
{
    if (!call.worker || call.cancelling)
        return;
    call.cancelling = true;
    write(*call.worker,
        encodeQtFrame({ { QStringLiteral("type"), QStringLiteral("cancel") },
            { QStringLiteral("id"), qint64(call.id) } }));
    escalateCancel(*call.worker);
}

// After a cancel message: if the calls being cancelled have not all been answered within the
// grace period, the worker is stopped (its tree: SIGTERM, grace, SIGKILL) and replaced. Its
// other calls are innocent: they are requeued, not failed.
void PoolImpl::escalateCancel(WorkerProc &w)
{
    if (w.escalationTimer || w.state == WorkerProc::Stopping)
        return;
    w.escalationTimer = workerTimer(spec.cancelGrace, w.index, [this](WorkerProc &w) {
        w.escalationTimer = 0;
        if (w.state == WorkerProc::Stopping)
            return;
        w.killedForCancel = true;
        w.state = WorkerProc::Stopping;
        w.child->stop(terminateThenKill(spec.cancelGrace));
        dispatch(); // its innocent calls come back when it is gone; others may start elsewhere now
    });
}

void PoolImpl::spawnWorker()
{
    auto w = std::make_unique<WorkerProc>();
    w->index = m_nextIndex++;
    w->out = LogRing(spec.logBytes);
    w->err = LogRing(spec.logBytes);
    w->decoder = std::make_unique<QtFrameDecoder>(spec.maxHeaderBytes, spec.maxPayloadBytes);

    SpawnRequest req;
    req.program = spec.program;
    req.arguments = spec.arguments;
    req.environment = spec.environment;
    req.workingDirectory = spec.workingDirectory;
    req.niceness = spec.niceness;
    int pair[2] = { -1, -1 };
    if (spec.stdioChannel) {
        req.environment.insert("OFFLOAD_WORKER_STDIO", "1");
        req.pipeStdin = true;
    } else {
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
            breakPool(Error { ErrorKind::Launch, QStringLiteral("socketpair failed") });
            return;
        }
        req.environment.insert("OFFLOAD_WORKER_FD", "3");
        req.channelFd = pair[1];
    }
    const int index = w->index;
    Process::Handlers handlers;
    const auto self = shared_from_this();
    const auto forWorker = [this, self, index](auto fn) {
        return [this, self, index, fn](const char *data, size_t size) {
            if (WorkerProc *w = worker(index))
                fn(*w, data, size);
        };
    };
    if (spec.stdioChannel) // frames come in on the child's stdout, which is then not a log
        handlers.stdoutData = forWorker([this](WorkerProc &w, const char *data, size_t size) {
            if (size == 0)
                onChannelClosed(w);
            else
                onChannelBytes(w, data, size);
        });
    else
        handlers.stdoutData = forWorker([this](WorkerProc &w, const char *data, size_t size) {
            onOutput(w, false, data, size);
        });
    handlers.stderrData = forWorker(
        [this](WorkerProc &w, const char *data, size_t size) { onOutput(w, true, data, size); });
    handlers.located = [this, self, index] {
        if (WorkerProc *w = worker(index); w && w->child) {
            w->lastSample = w->child->sample();
            w->pid = w->lastSample.pid;
            if (spec.launcher.kind() == Launcher::Kind::Slurm)
                armHello(*w); // a job's start-up is counted from when it runs
        }
    };
    handlers.exited = [this, self, index](const ExitStatus &status) {
        if (WorkerProc *w = worker(index))
            onExit(*w, status);
    };
    w->spawnedAt = Supervisor::Clock::now();
    Error error;
    w->child = startProcess(spec.launcher, std::move(req), std::move(handlers), &error);
    if (pair[1] >= 0)
        ::close(pair[1]);
    if (!w->child) {
        if (pair[0] >= 0)
            ::close(pair[0]);
        breakPool(error); // a missing or unexecutable program will not fix itself
        return;
    }
    w->lastSample = w->child->sample();
    w->pid = w->lastSample.pid;
    if (!spec.stdioChannel) {
        w->sock = pair[0];
        ::fcntl(w->sock, F_SETFL, ::fcntl(w->sock, F_GETFL) | O_NONBLOCK);
        w->wSock = watchWorker(
            w->sock, index, [this](WorkerProc &w, uint32_t events) { onSocket(w, events); });
    }
    WorkerProc &ref = *w;
    if (spec.launcher.kind() != Launcher::Kind::Slurm)
        armHello(ref);
    m_workers.emplace(index, std::move(w));
    write(ref,
        encodeQtFrame({ { QStringLiteral("type"), QStringLiteral("hello") },
            { QStringLiteral("protocol"), protocol::version } }));
}

void PoolImpl::armHello(WorkerProc &w)
{
    if (w.helloTimer || w.everReady)
        return;
    w.helloTimer = workerTimer(spec.startTimeout, w.index, [this](WorkerProc &w) {
        w.helloTimer = 0;
        protocolFailure(w,
            QStringLiteral("no hello within %1 ms of starting").arg(spec.startTimeout.count()),
            ErrorKind::Launch);
    });
}

// The restart limit is a rate: more unexpected exits than restartLimit within restartWindow
// break the pool, and it recovers by itself once the window has passed since the oldest. Only
// workers that never answered a call count: the limit is for workers that cannot work (they
// crash at start, or on every call), while a worker killed after answering (the OOM killer,
// a user, a poisonous call) costs its own calls and must not fail everything that waits.
void PoolImpl::noteUnexpectedExit(const Error &cause, bool countsToLimit)
{
    ++m_restarts;
    if (!countsToLimit)
        return;
    const auto now = Supervisor::Clock::now();
    m_restartTimes.push_back(now);
    while (!m_restartTimes.empty() && now - m_restartTimes.front() > spec.restartWindow)
        m_restartTimes.pop_front();
    if (int(m_restartTimes.size()) > spec.restartLimit) {
        Error e = cause;
        e.message = QStringLiteral(
            "worker pool '%1' is broken: %2 workers exited unexpectedly before answering a call "
            "within %3 s (last: %4)")
                        .arg(name)
                        .arg(m_restartTimes.size())
                        .arg(spec.restartWindow.count() / 1000.0)
                        .arg(cause.message);
        breakPool(e);
    }
}

void PoolImpl::breakPool(Error error)
{
    if (m_broken)
        return;
    m_broken = true;
    m_brokenError = error;
    qCWarning(lcWorkerPool, "%s", qPrintable(error.message));
    failQueued(error);
    recoverIfWindowPassed();
}

void PoolImpl::recoverIfWindowPassed()
{
    if (!m_broken || m_recoverTimer || m_stopping)
        return;
    // A spawn failure (no restart times) is retried after one window as well.
    const auto now = Supervisor::Clock::now();
    const auto when = m_restartTimes.empty() ? now + spec.restartWindow
                                             : m_restartTimes.front() + spec.restartWindow;
    m_recoverTimer = m_sup.addTimer(when, [this, self = shared_from_this()] {
        m_recoverTimer = 0;
        const auto now = Supervisor::Clock::now();
        while (!m_restartTimes.empty() && now - m_restartTimes.front() >= spec.restartWindow)
            m_restartTimes.pop_front();
        m_broken = false;
        m_brokenError = Error {};
        m_consecutiveStartFailures = 0;
        qCInfo(lcWorkerPool, "%s: restart window passed; accepting calls again", qPrintable(name));
        maintain();
    });
}

void PoolImpl::failQueued(const Error &error)
{
    while (auto call = takeNextQueued())
        call->task->fail(error);
}

// Keeps minWorkers alive and lets idle extras go.
void PoolImpl::maintain()
{
    if (m_stopping || m_broken)
        return;
    while (liveWorkers() < spec.minWorkers) {
        spawnWorker();
        if (m_broken)
            return;
    }
    dispatch();
}

void PoolImpl::armIdle(WorkerProc &w)
{
    if (w.idleTimer || !w.outstanding.empty() || liveWorkers() <= spec.minWorkers)
        return;
    w.idleTimer = workerTimer(spec.idleTimeout, w.index, [this](WorkerProc &w) {
        w.idleTimer = 0;
        if (!w.outstanding.empty() || liveWorkers() <= spec.minWorkers)
            return;
        w.expectedExit = true;
        w.state = WorkerProc::Stopping;
        // bye; if it does not leave within the grace, it is made to.
        const int index = w.index;
        w.child->stop(
            { StopStep::message(
                  [this, index] {
                      if (WorkerProc *w = worker(index))
                          write(*w,
                              encodeQtFrame({ { QStringLiteral("type"), QStringLiteral("bye") } }));
                  },
                  spec.cancelGrace),
                StopStep::sendSignal(SIGTERM, spec.cancelGrace), StopStep::kill() });
    });
}

// At most twice a second, while any worker is busy: pid, RSS and CPU time into the tasks.
void PoolImpl::sampleProcesses()
{
    m_sampleTimer = 0;
    bool busy = false;
    for (auto &[i, w] : m_workers) {
        if (w->outstanding.empty())
            continue;
        busy = true;
        w->lastSample = w->child ? w->child->sample() : ProcessInfo { w->pid, -1, -1, {} };
        w->pid = w->lastSample.pid;
        for (auto &[id, call] : w->outstanding)
            call->task->setProcessInfo(w->lastSample);
    }
    if (busy)
        m_sampleTimer = m_sup.addTimer(std::chrono::milliseconds(500),
            [this, self = shared_from_this()] { sampleProcesses(); });
}

void PoolImpl::shutdown(std::shared_ptr<std::promise<void>> done)
{
    accepting = false;
    if (m_stopping) {
        if (m_workers.empty())
            done->set_value();
        else
            m_stopped = done; // the first caller's promise was superseded
        return;
    }
    m_stopping = true;
    m_stopped = std::move(done);
    while (auto call = takeNextQueued())
        call->task->finishCancelled();
    for (auto &[i, w] : m_workers) {
        for (auto &[id, call] : w->outstanding)
            call->cancelling = true;
        w->expectedExit = true;
        w->state = WorkerProc::Stopping;
        w->child->stop(terminateThenKill(spec.cancelGrace));
    }
    if (m_recoverTimer)
        m_sup.cancelTimer(m_recoverTimer);
    m_recoverTimer = 0;
    if (m_workers.empty()) {
        auto stopped = std::move(m_stopped);
        stopped->set_value();
    }
}

} // namespace detail
} // namespace offload
