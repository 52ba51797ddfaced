// TaskCore::deliver: what the dispatcher does for one task on its context's thread, in three
// steps: check the context and bind its guard, take what is pending under the task's lock,
// then call the callbacks outside it (they may cancel, add callbacks or drop the last handle).
#include "taskcore_p.h"

#include <QThread>

namespace offload::detail {

namespace {

using Clock = std::chrono::steady_clock;

// What one delivery hands to the callbacks, taken under the task's lock.
struct Pending
{
    quint8 entered = 0;
    TaskState state = TaskState::Queued;
    bool deliverProgress = false;
    bool scheduleDelay = false;
    Progress progress;
    quint64 seq = 0;
    CbList<TaskCore::ProgressCallback> progressCbs;
    CbList<TaskCore::OutputCallback> outputCbs;
    std::vector<OutputChunk> output;
    CbList<TaskCore::StateCallback> stateCbs;
    std::function<void()> resume;
    std::function<void(quint64)> latest;
    quint64 latestReplaced = 0;
};

// What postLatest() left for a context that is gone: never run, so released now (a frame's
// buffers go back to its worker) rather than with the last handle to the task.
void dropLatest(TaskCore::Private &d)
{
    std::function<void(quint64)> dropped;
    std::lock_guard lock(d.mutex);
    std::swap(dropped, d.latest); // released after the lock: it may own resources
}

// The context is still there; once it is gone, the task is never delivered again.
bool isAlive(TaskCore::Private &d)
{
    if (d.contextRaw && d.context.isNull()) {
        d.dead = true;
        return false;
    }
    return true;
}

// A context in another thread at submission: its guard is bound here, in its own thread.
void bindContextGuard(TaskCore &task, TaskCore::Private &d)
{
    {
        std::lock_guard lock(d.mutex);
        if (!d.contextRaw || d.contextTasks)
            return;
    }
    auto tasks = contextTasksFor(d.contextRaw);
    {
        std::lock_guard lock(d.mutex);
        d.contextTasks = tasks;
    }
    if (!isFinalState(task.state()))
        tasks->add(task);
}

Pending takePending(TaskCore::Private &d, Clock::time_point now, bool fromDelayList)
{
    Pending p;
    std::lock_guard lock(d.mutex);
    if (fromDelayList)
        d.delayed = false;
    else
        d.inQueue = false;
    p.entered = d.enteredMask;
    p.state = d.state;
    p.seq = d.progressSeq;
    const bool changed = p.seq != d.deliveredProgressSeq;
    const bool throttled = changed && !isFinalState(p.state) && !d.outputFull
        && now - d.lastProgressDelivery < Dispatcher::coalescingInterval;
    p.deliverProgress = changed && !throttled;
    if (p.deliverProgress) {
        p.progress = d.progress;
        p.output.swap(d.pendingOutput);
        d.pendingOutputBytes = 0;
        if (std::exchange(d.outputFull, false))
            p.resume = d.outputResumeHandler;
    }
    if (throttled && !d.delayed) // the dispatcher's timer owns the next delivery
        d.delayed = p.scheduleDelay = true;
    if (d.latest) {
        p.latest = std::move(d.latest);
        d.latest = nullptr;
        p.latestReplaced = std::exchange(d.latestReplaced, 0);
    }
    p.progressCbs = d.progressCallbacks;
    p.outputCbs = d.outputCallbacks;
    p.stateCbs = d.stateCallbacks;
    return p;
}

// Calls every callback of list with arg; false if the context died meanwhile (stop there).
template<typename List, typename Arg> bool callAll(const List &list, const Arg &arg, auto alive)
{
    if (!list)
        return true;
    for (const auto &cb : *list) {
        cb(arg);
        if (!alive())
            return false;
    }
    return true;
}

} // namespace

void TaskCore::deliver(bool fromDelayList)
{
    if (d->dead)
        return dropLatest(*d);
    auto self = shared_from_this(); // callbacks may drop every other reference
    const auto alive = [this] { return isAlive(*d); };
    if (!alive()) {
        requestCancel();
        unlinkFromContext();
        return dropLatest(*d);
    }
    bindContextGuard(*this, *d);

    const auto now = Clock::now();
    Pending p = takePending(*d, now, fromDelayList);

    const auto emitState = [&](TaskState s) {
        if (!(p.entered & stateBit(s)) || (d->deliveredMask & stateBit(s)))
            return true;
        d->deliveredMask |= stateBit(s);
        return callAll(p.stateCbs, s, alive);
    };
    for (TaskState s : { TaskState::Queued, TaskState::Starting, TaskState::Running }) {
        if (!emitState(s))
            return;
    }
    if (p.deliverProgress) {
        d->deliveredProgressSeq = p.seq;
        d->lastProgressDelivery = now;
        for (const auto &chunk : p.output) {
            if (!callAll(p.outputCbs, chunk, alive))
                return;
        }
        p.output.clear();
        if (p.resume)
            p.resume(); // the producer reads again
        if (!callAll(p.progressCbs, p.progress, alive))
            return;
    }
    if (p.latest) {
        p.latest(p.latestReplaced);
        if (!alive())
            return;
    }
    if (isFinalState(p.state)) {
        // Unlinked here, in the context's thread, rather than by the finishing thread: the
        // context's list is then touched by one thread only and its mutex never contended.
        unlinkFromContext();
        if (!emitState(p.state))
            return;
        std::vector<CoreCallback> finished;
        {
            std::lock_guard lock(d->mutex);
            finished.swap(d->finishedCallbacks);
        }
        for (auto &cb : finished) {
            cb(*this);
            if (!alive())
                return;
        }
    } else if (p.scheduleDelay) {
        if (auto *dispatcher = currentDispatcher())
            dispatcher->delay(self);
    }
}

} // namespace offload::detail
