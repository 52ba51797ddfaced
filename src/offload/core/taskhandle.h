// TaskHandle<T>: the caller's copyable, thread-safe view of one task, whatever runs it.
#pragma once

#include <offload/core/taskcore.h>

#include <QFuture>
#include <QFutureInterface>
#include <QFutureWatcher>
#include <QThread>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <type_traits>

namespace offload {

template<typename T> class TaskHandle;
template<typename T> class TaskPromise;
namespace detail {
struct Access;
}

// Untyped part of every handle: identity, state, progress, error, cancel, wait.
// Thread-safety: every member may be called from any thread; copies share one task.
// A default-constructed handle is invalid (isValid() false) and must not be used otherwise.
class OFFLOAD_CORE_EXPORT TaskHandleBase
{
public:
    TaskHandleBase() = default;

    bool isValid() const { return bool(m_core); }
    quint64 id() const { return m_core->id(); }
    QString name() const { return m_core->name(); }
    QString kind() const { return m_core->kind(); }
    // The state now, on any thread. A task becomes final (isFinal(), waitForFinished() returns)
    // on the thread that ends it, before its callbacks run on the context thread: a callback
    // always sees the final state, but a final state does not mean the callbacks have run.
    // Reading a final state (state(), isFinal(), error(), result()) counts as observing the
    // task's end: a coroutine Task's failure read so is not reported as unhandled.
    TaskState state() const { return m_core->readState(); }
    bool isFinal() const { return isFinalState(state()); }
    Progress progress() const { return m_core->progress(); }
    // Why the task failed; empty (kind None, isEmpty()) unless it is Failed.
    Error error() const { return (void)state(), m_core->error(); }
    ProcessInfo processInfo() const { return m_core->processInfo(); }
    // State, progress, name, times and error summary read under one lock, and the parent
    // (what a monitor shows; reading it does not count as observing the end).
    TaskSnapshot snapshot() const { return m_core->snapshot(); }
    // The id of the task this one is a part of (setParent()); 0 if none.
    quint64 parentId() const { return m_core->parentId(); }
    bool isCancellationRequested() const { return m_core->isCancellationRequested(); }
    // Time since the task started running (or since creation while queued); stops at the end.
    std::chrono::milliseconds elapsed() const;

    // Requests cancellation. A queued task ends Cancelled at once and never starts; running
    // work is asked to stop and ends Cancelled when it has. No effect on a finished task.
    void cancel() const { m_core->requestCancel(); }

    // Shows this task under parent in monitors (a child row; display only, no cancel cascade).
    // Any thread, typically right after creating this task; allowed on a final task. A task
    // cannot be its own parent (ignored); an invalid parent clears it.
    void setParent(const TaskHandleBase &parent) const
    {
        m_core->setParentId(parent.isValid() ? parent.id() : 0);
    }

    // Blocks the calling thread (never the GUI thread, please) until the task is final.
    bool waitForFinished(std::chrono::milliseconds timeout) const
    {
        return m_core->waitForFinished(timeout);
    }

    friend bool operator==(const TaskHandleBase &a, const TaskHandleBase &b)
    {
        return a.m_core == b.m_core;
    }

protected:
    friend struct detail::Access;
    explicit TaskHandleBase(std::shared_ptr<detail::TaskCore> core) : m_core(std::move(core)) { }
    // Throws CancelledError / Exception / std::logic_error unless the task Finished.
    void checkFinished() const;
    std::shared_ptr<detail::TaskCore> m_core;
};

// Callbacks registered on a handle (all but onFinishedDirect) run on the task's context
// thread, in this order:
// state changes, coalesced progress (at most ~60/s, latest wins, final value always
// delivered), the final state, then onFinished/onResult/onError/onCancelled.
// Registered after the end, finished callbacks are still called (asynchronously).
// If the context object is destroyed, nothing more is called and the task is cancelled.
// They are notifications, not continuations (unlike QFuture::then/onFailed/onCanceled): they
// return nothing, cannot recover a failure, run on the task's context, and several may be
// registered; onFinished/onResult/onError/onCancelled are each called at most once.
// Dropping every handle neither cancels the task nor silences it: the work runs to its end,
// the callbacks registered are called, and the task's state is freed after its last delivery.
// Call cancel() first to stop it.
template<typename T> class TaskHandle : public TaskHandleBase
{
public:
    using ValueType = T;

    TaskHandle() = default;

    // The value of a Finished task. Throws offload::Exception if it Failed, CancelledError if
    // it was Cancelled, std::logic_error if it has not ended.
    decltype(auto) result() const
    {
        checkFinished();
        if constexpr (!std::is_void_v<T>)
            return static_cast<const Core &>(*m_core).value();
    }

    const TaskHandle &onProgress(std::function<void(const Progress &)> cb) const
    {
        m_core->addProgressCallback(std::move(cb));
        return *this;
    }
    // Output (stdout, stderr, worker log) in order, coalesced like progress. Every byte: while
    // the context's thread is more than 1 MiB behind, a program run stops reading the program's
    // output (it waits) rather than dropping any. Without a subscriber only the newest 1 MiB
    // waits for delivery; droppedOutputBytes() counts the rest.
    qint64 droppedOutputBytes() const { return m_core->droppedOutputBytes(); }
    const TaskHandle &onOutput(std::function<void(const OutputChunk &)> cb) const
    {
        m_core->addOutputCallback(std::move(cb));
        return *this;
    }
    const TaskHandle &onStateChanged(std::function<void(TaskState)> cb) const
    {
        m_core->addStateCallback(std::move(cb));
        return *this;
    }
    // Called once in any final state.
    template<typename F> const TaskHandle &onFinished(F &&cb) const
    {
        static_assert(std::is_invocable_v<F &, const TaskHandle &>,
            "onFinished takes a callable(const TaskHandle<T> &)");
        m_core->addFinishedCallback([cb = std::forward<F>(cb)](detail::TaskCore &core) mutable {
            cb(TaskHandle(std::static_pointer_cast<Core>(core.shared_from_this())));
        });
        return *this;
    }
    // Called with the value if the task Finished.
    template<typename F> const TaskHandle &onResult(F &&cb) const
    {
        m_core->addFinishedCallback([cb = std::forward<F>(cb)](detail::TaskCore &core) mutable {
            if (core.state() != TaskState::Finished)
                return;
            if constexpr (std::is_void_v<T>)
                cb();
            else
                cb(static_cast<const Core &>(core).value());
        });
        return *this;
    }
    // Called with the Error if the task Failed.
    template<typename F> const TaskHandle &onError(F &&cb) const
    {
        m_core->addFinishedCallback([cb = std::forward<F>(cb)](detail::TaskCore &core) mutable {
            if (core.state() == TaskState::Failed)
                cb(core.error());
        });
        return *this;
    }
    // Called if the task ended Cancelled (by cancel(), its context's destruction, or shutdown).
    template<typename F> const TaskHandle &onCancelled(F &&cb) const
    {
        m_core->addFinishedCallback([cb = std::forward<F>(cb)](detail::TaskCore &core) mutable {
            if (core.state() == TaskState::Cancelled)
                cb();
        });
        return *this;
    }

    // Called once with this handle on the thread that ends the task, right after the final
    // state is set: a pool thread, the process supervisor's thread, a coroutine's thread, the
    // thread that cancels a queued task or destroys an unfinished promise (or this thread, at
    // once, if the task has already ended). For chaining work where no event
    // loop may be waited for (ModuleRunner::describe parses a program's output so). Keep it
    // short and non-blocking, and touch no widget from it; onFinished is the GUI's callback.
    template<typename F> const TaskHandle &onFinishedDirect(F &&cb) const
    {
        static_assert(std::is_invocable_v<F &, const TaskHandle &>,
            "onFinishedDirect takes a callable(const TaskHandle<T> &)");
        m_core->addCompletionHook([cb = std::forward<F>(cb)](detail::TaskCore &core) mutable {
            cb(TaskHandle(std::static_pointer_cast<Core>(core.shared_from_this())));
        });
        return *this;
    }

    // A QFuture that finishes with this task: the value, the Error as an offload::Exception,
    // or cancelled. Cancelling the QFuture cancels the task when toFuture() was called on a
    // thread with a Qt event loop (a QFutureWatcher there carries the cancel; it is deleted
    // when the future finishes); from other threads, call cancel() on the handle.
    //
    // Qt 6.4: do not chain then(context, ...) on this future. Qt's continuation crashes in its
    // promise's reportStarted when the future completes on a pool thread under load: a burst
    // of 20,000 toFuture().then(context, ...) crashed in every run here (bench_threads
    // future_then; without the QFutureWatcher above, in none, but that watcher is what carries
    // a QFuture cancel to the task). onResult/onFinished, or co_await, deliver on the
    // context thread without QFuture; a QFutureWatcher on this future is safe.
    QFuture<T> toFuture() const
    {
        QFutureInterface<T> fi;
        fi.reportStarted();
        QFuture<T> future = fi.future();
        m_core->addCompletionHook([fi](detail::TaskCore &core) mutable {
            switch (core.state()) {
            case TaskState::Finished:
                if constexpr (!std::is_void_v<T>)
                    fi.reportResult(static_cast<Core &>(core).value());
                break;
            case TaskState::Failed:
                fi.reportException(std::make_exception_ptr(Exception(core.error())));
                break;
            default:
                fi.cancel();
                break;
            }
            fi.reportFinished();
        });
        if (QThread::currentThread()->eventDispatcher()) {
            auto *watcher = new QFutureWatcher<T>;
            QObject::connect(watcher, &QFutureWatcherBase::canceled, watcher,
                [core = std::weak_ptr<detail::TaskCore>(m_core)] {
                    if (const auto c = core.lock())
                        c->requestCancel(); // a no-op once the task is final
                });
            QObject::connect(
                watcher, &QFutureWatcherBase::finished, watcher, &QObject::deleteLater);
            watcher->setFuture(future);
        }
        return future;
    }

private:
    friend struct detail::Access;
    using Core = detail::TaskResultCore<T>; // the value lives there (a template needs it)
    explicit TaskHandle(std::shared_ptr<Core> core) : TaskHandleBase(std::move(core)) { }
};

namespace detail {

// How Offload's own templates reach the task behind a handle: co_await and whenAll/whenAny
// (coro/), ThreadPool::run and TaskPromise all have to live in installed headers, so this
// does too. Not API: code outside Offload makes tasks with TaskPromise and reads them through
// handles.
struct Access
{
    static const std::shared_ptr<TaskCore> &core(const TaskHandleBase &h) { return h.m_core; }
    static TaskHandleBase handle(std::shared_ptr<TaskCore> core)
    {
        return TaskHandleBase(std::move(core));
    }
    template<typename T> static TaskHandle<T> typedHandle(std::shared_ptr<TaskResultCore<T>> core)
    {
        return TaskHandle<T>(std::move(core));
    }
    static void attach(TaskCore &core) { core.attach(); }
    template<typename T> static TaskPromise<T> adopt(std::shared_ptr<TaskResultCore<T>> core)
    {
        return TaskPromise<T>(std::move(core));
    }
};

} // namespace detail

} // namespace offload
