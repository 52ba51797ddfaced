#include "taskcore_p.h"
#include <offload/core/taskregistry.h>

#include <QPointer>
#include <QThread>

#include <atomic>
#include <condition_variable>
#include <mutex>

namespace offload::detail {

using Clock = std::chrono::steady_clock;

namespace {
std::atomic<quint64> s_nextId { 1 };
} // namespace

TaskCore::TaskCore(QObject *context, QString kind, QString name) : d(std::make_unique<Private>())
{
    d->id = s_nextId.fetch_add(1, std::memory_order_relaxed);
    d->kind = std::move(kind);
    d->name = std::move(name);
    d->contextRaw = context;
    d->context = context;
    d->times.created = Clock::now();
    d->queue = deliveryQueueFor(context ? context->thread() : QThread::currentThread());
    d->registryHook.owner = this;
    d->contextHook.owner = this;
}

TaskCore::~TaskCore()
{
    TaskRegistry::instance().remove(*this);
    if (d->contextTasks)
        d->contextTasks->remove(*this);
}

void TaskCore::attach()
{
    TaskRegistry::instance().add(*this);
    if (!d->contextRaw)
        return;
    if (d->contextRaw->thread() == QThread::currentThread()) {
        auto tasks = contextTasksFor(d->contextRaw);
        {
            std::lock_guard lock(d->mutex);
            d->contextTasks = tasks;
        }
        tasks->add(*this);
    } else {
        notifyChanged(Change::Final); // the dispatcher registers the guard in the context's thread
    }
}

quint64 TaskCore::id() const
{
    return d->id;
}

QString TaskCore::kind() const
{
    std::lock_guard lock(d->mutex);
    return d->kind;
}

QString TaskCore::name() const
{
    std::lock_guard lock(d->mutex);
    return d->name;
}

quint64 TaskCore::parentId() const
{
    return d->parentId.load(std::memory_order_acquire);
}

void TaskCore::setParentId(quint64 parentId)
{
    if (parentId == d->id)
        return; // a cycle of one: a monitor could never place the row
    if (d->parentId.exchange(parentId, std::memory_order_acq_rel) == parentId)
        return;
    TaskRegistry::instance().markDirty(*this);
}

void TaskCore::setName(const QString &name)
{
    {
        std::lock_guard lock(d->mutex);
        d->name = name;
    }
    TaskRegistry::instance().markDirty(*this);
}

QObject *TaskCore::context() const
{
    return d->contextRaw;
}

Progress TaskCore::progress() const
{
    std::lock_guard lock(d->mutex);
    return d->progress;
}

Error TaskCore::error() const
{
    std::lock_guard lock(d->mutex);
    return d->error ? *d->error : Error {};
}

} // namespace offload::detail

namespace offload {

std::chrono::milliseconds TaskTimes::elapsed() const
{
    using namespace std::chrono;
    const auto start = started == steady_clock::time_point {} ? created : started;
    const auto end = finished == steady_clock::time_point {} ? steady_clock::now() : finished;
    return duration_cast<milliseconds>(end - start);
}

} // namespace offload

namespace offload::detail {

TaskSnapshot TaskCore::snapshot() const
{
    TaskSnapshot s;
    s.parentId = d->parentId.load(std::memory_order_acquire);
    std::lock_guard lock(d->mutex);
    s.state = d->state;
    s.progress = d->progress;
    s.process = d->processInfo;
    s.name = d->name;
    s.times = d->times;
    if (s.state == TaskState::Failed)
        s.errorSummary = d->error ? d->error->summary() : QString();
    return s;
}

TaskTimes TaskCore::times() const
{
    std::lock_guard lock(d->mutex);
    return d->times;
}

ProcessInfo TaskCore::processInfo() const
{
    std::lock_guard lock(d->mutex);
    return d->processInfo;
}

qint64 TaskCore::droppedOutputBytes() const
{
    std::lock_guard lock(d->mutex);
    return d->droppedOutputBytes;
}

void TaskCore::addOutputCallback(OutputCallback cb)
{
    std::lock_guard lock(d->mutex);
    append(d->outputCallbacks, std::move(cb));
}

bool TaskCore::appendOutput(OutputChunk::Stream stream, const QByteArray &data)
{
    if (data.isEmpty())
        return true;
    bool full = false;
    {
        std::lock_guard lock(d->mutex);
        if (isFinalState(d->state))
            return true;
        if (!d->pendingOutput.empty() && d->pendingOutput.back().stream == stream)
            d->pendingOutput.back().data += data; // coalesce consecutive chunks of a stream
        else
            d->pendingOutput.push_back({ stream, data });
        d->pendingOutputBytes += data.size();
        const bool consumer = d->outputCallbacks && !d->outputCallbacks->empty();
        const qint64 keep = consumer ? hardPendingOutput : maxPendingOutput;
        // Bounded: nobody asked for the stream (or the producer ignored back-pressure): the
        // oldest output goes, counted.
        while (d->pendingOutputBytes > keep && !d->pendingOutput.empty()) {
            auto &front = d->pendingOutput.front();
            const qint64 excess = d->pendingOutputBytes - keep;
            if (front.data.size() <= excess) {
                d->pendingOutputBytes -= front.data.size();
                d->droppedOutputBytes += front.data.size();
                d->pendingOutput.erase(d->pendingOutput.begin());
            } else {
                front.data.remove(0, excess);
                d->pendingOutputBytes -= excess;
                d->droppedOutputBytes += excess;
            }
        }
        full = consumer && d->pendingOutputBytes >= maxPendingOutput;
        if (full)
            d->outputFull = true;
        ++d->progressSeq; // output rides the progress coalescing
    }
    // A full buffer is delivered at once rather than at the next coalescing tick: the
    // producer is paused until then.
    notifyChanged(full ? Change::Final : Change::Lazy);
    return !full;
}

void TaskCore::setOutputResumeHandler(std::function<void()> handler)
{
    std::lock_guard lock(d->mutex);
    d->outputResumeHandler = std::move(handler);
}

void TaskCore::setProcessInfo(const ProcessInfo &info)
{
    {
        std::lock_guard lock(d->mutex);
        if (d->processInfo == info)
            return;
        d->processInfo = info;
    }
    TaskRegistry::instance().markDirty(*this);
}

bool TaskCore::isCancellationRequested() const
{
    std::lock_guard lock(d->mutex);
    return d->cancelRequested;
}

bool TaskCore::waitForFinished(std::chrono::milliseconds timeout) const
{
    std::unique_lock lock(d->mutex);
    if (!d->finishedCv)
        d->finishedCv = std::make_unique<std::condition_variable>();
    return d->finishedCv->wait_for(lock, timeout, [this] { return isFinalState(d->state); });
}

void TaskCore::requestCancel()
{
    std::function<void()> handler;
    bool queuedNow = false;
    {
        std::lock_guard lock(d->mutex);
        if (isFinalState(d->state) || d->cancelRequested)
            return;
        d->cancelRequested = true;
        queuedNow = d->state == TaskState::Queued;
        handler = std::move(d->cancelHandler);
        d->cancelHandler = nullptr;
    }
    if (handler)
        handler();
    if (queuedNow)
        finishCancelled(); // a queued task never starts
    else
        TaskRegistry::instance().markDirty(*this);
}

void TaskCore::addProgressCallback(ProgressCallback cb)
{
    std::lock_guard lock(d->mutex);
    append(d->progressCallbacks, std::move(cb));
}

void TaskCore::addStateCallback(StateCallback cb)
{
    std::lock_guard lock(d->mutex);
    append(d->stateCallbacks, std::move(cb));
}

void TaskCore::addFinishedCallback(CoreCallback cb)
{
    bool final = false;
    {
        std::lock_guard lock(d->mutex);
        d->observed = true;
        d->finishedCallbacks.push_back(std::move(cb));
        final = isFinalState(d->state);
    }
    if (final)
        d->queue->enqueue(
            shared_from_this(), DeliveryQueue::Wake::Urgent); // added late: still called
}

bool TaskCore::isObserved() const
{
    if (m_endRead.load(std::memory_order_relaxed))
        return true;
    std::lock_guard lock(d->mutex);
    return d->observed;
}

void TaskCore::addCompletionHook(CoreCallback hook)
{
    {
        std::lock_guard lock(d->mutex);
        d->observed = true;
        if (!isFinalState(d->state)) {
            d->completionHooks.push_back(std::move(hook));
            return;
        }
    }
    hook(*this);
}

bool TaskCore::markStarting()
{
    {
        std::lock_guard lock(d->mutex);
        // A queued task whose cancel is under way (its handler runs, then it ends Cancelled)
        // never starts.
        if (d->state != TaskState::Queued || d->cancelRequested)
            return false;
        d->state = TaskState::Starting;
        m_publishedState.store(d->state, std::memory_order_release);
        d->enteredMask |= stateBit(TaskState::Starting);
    }
    notifyChanged(Change::Lazy);
    return true;
}

bool TaskCore::markRunning()
{
    {
        std::lock_guard lock(d->mutex);
        if (isFinalState(d->state) || d->state == TaskState::Running
            || (d->state == TaskState::Queued && d->cancelRequested))
            return false;
        d->state = TaskState::Running;
        m_publishedState.store(d->state, std::memory_order_release);
        d->enteredMask |= stateBit(TaskState::Running);
        d->times.started = Clock::now();
    }
    notifyChanged(Change::Lazy);
    return true;
}

#define OFFLOAD_UPDATE_PROGRESS(stmt)                                                              \
    {                                                                                              \
        std::lock_guard lock(d->mutex);                                                            \
        if (isFinalState(d->state))                                                                \
            return;                                                                                \
        stmt;                                                                                      \
        ++d->progressSeq;                                                                          \
    }                                                                                              \
    notifyChanged(Change::Lazy);

void TaskCore::setProgressRange(qint64 minimum, qint64 maximum)
{
    OFFLOAD_UPDATE_PROGRESS((d->progress.minimum = minimum, d->progress.maximum = maximum))
}

void TaskCore::setProgressValue(qint64 value)
{
    OFFLOAD_UPDATE_PROGRESS(d->progress.value = value)
}

void TaskCore::setProgressValue(qint64 value, const QString &text)
{
    OFFLOAD_UPDATE_PROGRESS((d->progress.value = value, d->progress.text = text))
}

void TaskCore::setProgressText(const QString &text)
{
    OFFLOAD_UPDATE_PROGRESS(d->progress.text = text)
}

void TaskCore::setStage(const Stage &stage)
{
    OFFLOAD_UPDATE_PROGRESS(d->progress.stage = stage)
}

void TaskCore::setProgress(const Progress &progress)
{
    OFFLOAD_UPDATE_PROGRESS(d->progress = progress)
}

void TaskCore::updateProgressWith(void (*apply)(void *, Progress &), void *fn)
{
    OFFLOAD_UPDATE_PROGRESS(apply(fn, d->progress))
}

#undef OFFLOAD_UPDATE_PROGRESS

void TaskCore::setCancelHandler(std::function<void()> handler)
{
    bool runNow = false;
    {
        std::lock_guard lock(d->mutex);
        if (isFinalState(d->state))
            return;
        if (d->cancelRequested)
            runNow = true;
        else
            d->cancelHandler = std::move(handler);
    }
    if (runNow && handler)
        handler();
}

bool TaskCore::finish()
{
    return finalize(TaskState::Finished, nullptr);
}

bool TaskCore::fail(Error error)
{
    if (error.isEmpty())
        error.kind = ErrorKind::Exception; // a failure always says what kind it is
    return finalize(TaskState::Failed, &error);
}

bool TaskCore::finishCancelled()
{
    return finalize(TaskState::Cancelled, nullptr);
}

bool TaskCore::finalize(TaskState state, Error *error)
{
    // A completion hook may drop the last owner (a producer erasing its promise); the task
    // must live until it has scheduled its final delivery.
    const auto keep = weak_from_this().lock();
    std::vector<CoreCallback> hooks;
    std::function<void()> handler;
    std::condition_variable *waiters = nullptr;
    {
        std::lock_guard lock(d->mutex);
        if (isFinalState(d->state))
            return false;
        waiters = d->finishedCv.get();
        d->state = state;
        m_publishedState.store(state, std::memory_order_release);
        d->enteredMask |= stateBit(state);
        if (error)
            d->error = std::make_unique<Error>(std::move(*error));
        d->times.finished = Clock::now();
        if (d->times.started == Clock::time_point {})
            d->times.started = d->times.finished;
        hooks.swap(d->completionHooks);
        handler.swap(d->cancelHandler); // released outside the lock: it may own resources
    }
    if (waiters) // made under the mutex and kept as long as the task: safe to use unlocked
        waiters->notify_all();
    for (auto &hook : hooks)
        hook(*this);
    notifyChanged(Change::Final);
    return true;
}

bool TaskCore::postLatest(std::function<void(quint64 replaced)> fn)
{
    std::function<void(quint64)> replaced; // released outside the lock: it may own resources
    {
        std::lock_guard lock(d->mutex);
        if (isFinalState(d->state))
            return false;
        if (d->latest)
            ++d->latestReplaced;
        replaced = std::exchange(d->latest, std::move(fn));
    }
    notifyChanged(Change::Final); // not final yet: an urgent wake-up, as for a full output
    return true;
}

void TaskCore::notifyChanged(Change change)
{
    enum { Nothing, Push, WakeNow } action = Nothing;
    bool urgent = false;
    {
        std::lock_guard lock(d->mutex);
        // A final state wakes the context thread at once only when a callback there waits
        // for it. Without one (a task only awaited by a coroutine, which its completion hook
        // resumes, or only read through its handle) what is left to do there, unlinking it
        // from its context, rides the next lazy wake-up instead of costing a second one.
        // A callback added later enqueues itself urgently. The other urgent changes (a full
        // output buffer, a guard to register) come before the end and stay urgent.
        urgent = change == Change::Final
            && (!isFinalState(d->state) || d->stateCallbacks || d->progressCallbacks
                || d->outputCallbacks || !d->finishedCallbacks.empty());
        if (d->inQueue)
            action = urgent ? WakeNow : Nothing;
        else if (!d->delayed || change == Change::Final)
            action = Push;
        if (action == Push)
            d->inQueue = true;
    }
    const auto wake = urgent ? DeliveryQueue::Wake::Urgent : DeliveryQueue::Wake::Lazy;
    if (action == Push)
        d->queue->enqueue(shared_from_this(), wake);
    else if (action == WakeNow)
        d->queue->wakeNow();
    TaskRegistry::instance().markDirty(*this);
}

void TaskCore::unlinkFromContext()
{
    std::shared_ptr<ContextTasks> tasks;
    {
        std::lock_guard lock(d->mutex);
        tasks = d->contextTasks;
    }
    if (tasks)
        tasks->remove(*this);
}

} // namespace offload::detail
