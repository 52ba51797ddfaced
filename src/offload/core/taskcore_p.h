// TaskCore's private state and the parts of it that only Offload's dispatcher and monitor
// registry reach. Not installed.
#pragma once

#include "delivery_p.h"
#include "intrusivelist_p.h"
#include <offload/core/taskcore.h>

#include <QPointer>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <vector>

namespace offload::detail {

constexpr quint8 stateBit(TaskState s)
{
    return quint8(1u << unsigned(s));
}

// Callbacks are copied out under the lock and called outside it: an immutable list, replaced
// whole when one is added, makes the copy one reference count.
template<typename Cb> using CbList = std::shared_ptr<const std::vector<Cb>>;

template<typename Cb> void append(CbList<Cb> &list, Cb cb)
{
    auto next
        = list ? std::make_shared<std::vector<Cb>>(*list) : std::make_shared<std::vector<Cb>>();
    next->push_back(std::move(cb));
    list = std::move(next);
}

struct TaskCore::Private
{
    mutable std::mutex mutex;
    // Made by the first waitForFinished(), never destroyed before the task: most tasks are
    // never waited on, and a task's state is allocated for every task of a burst.
    mutable std::unique_ptr<std::condition_variable> finishedCv;

    quint64 id = 0; // set once by the constructor
    QString kind;
    QString name;
    QObject *contextRaw = nullptr;
    QPointer<QObject> context; // read on the context thread only
    std::shared_ptr<DeliveryQueue> queue;
    std::shared_ptr<ContextTasks> contextTasks;

    TaskState state = TaskState::Queued;
    quint8 enteredMask = stateBit(TaskState::Queued);
    Progress progress;
    quint64 progressSeq = 0;
    std::unique_ptr<Error> error; // only a failed task has one
    TaskTimes times;
    bool cancelRequested = false;
    bool observed = false; // a finished callback or completion hook was ever added
    bool inQueue = false; // waiting in the delivery queue
    bool delayed = false; // waiting in the dispatcher's coalescing delay list
    std::function<void()> cancelHandler;
    CbList<ProgressCallback> progressCallbacks;
    CbList<OutputCallback> outputCallbacks;
    std::vector<OutputChunk> pendingOutput;
    qint64 pendingOutputBytes = 0;
    qint64 droppedOutputBytes = 0;
    bool outputFull = false; // appendOutput said pause; resumeHandler runs after delivery
    std::function<void()> outputResumeHandler;
    ProcessInfo processInfo;
    std::function<void(quint64)> latest; // postLatest(): waiting for the context's thread
    quint64 latestReplaced = 0;
    CbList<StateCallback> stateCallbacks;
    std::vector<CoreCallback> finishedCallbacks;
    std::vector<CoreCallback> completionHooks;

    // Context thread only (the dispatcher).
    quint8 deliveredMask = 0;
    quint64 deliveredProgressSeq = 0;
    std::chrono::steady_clock::time_point lastProgressDelivery;
    bool dead = false; // context destroyed: never deliver again

    std::atomic<bool> monitorDirty { false };
    std::atomic<quint64> parentId { 0 }; // atomic: set by the child's owner on any thread
    ListHook registryHook; // guarded by the registry's mutex
    ListHook contextHook; // guarded by the ContextTasks' mutex
};

// What the dispatcher (delivery.cpp) and the registry (taskregistry.cpp) do to a task.
struct TaskCoreAccess
{
    static void deliver(TaskCore &task, bool fromDelayList) { task.deliver(fromDelayList); }
    static ListHook &registryHook(TaskCore &task) { return task.d->registryHook; }
    static ListHook &contextHook(TaskCore &task) { return task.d->contextHook; }
    // A task is listed as changed at most once per registry drain.
    static bool setMonitorDirty(TaskCore &task) { return !task.d->monitorDirty.exchange(true); }
    static bool takeMonitorDirty(TaskCore &task) { return task.d->monitorDirty.exchange(false); }
};

} // namespace offload::detail
