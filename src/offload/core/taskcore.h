// detail::TaskCore: the shared, thread-safe state behind every task handle, whatever runs it.
// Producers drive it through TaskPromise (taskpromise.h); handles read it (taskhandle.h).
// Installed only because those templates need its declaration: not API. Its public part is
// what a handle reads and registers; the producer's part is reached through TaskPromise only;
// the dispatcher's and the monitor registry's part through taskcore_p.h, which is not installed.
#pragma once

#include <offload/core/error.h>
#include <offload/core/output.h>
#include <offload/core/progress.h>
#include <offload/core/tasksnapshot.h>
#include <offload/core/taskstate.h>

#include <QObject>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

namespace offload {
class TaskControl;
class TaskPromiseBase;
template<typename T> class TaskPromise;
} // namespace offload

namespace offload::detail {

struct Access;
struct TaskCoreAccess;

// Thread-safety: every member function may be called from any thread. Callbacks added with
// add*Callback run on the context object's thread; completion hooks run on the thread that
// ends the task. The core never holds a callback's captures beyond the task's own lifetime.
class OFFLOAD_CORE_EXPORT TaskCore : public std::enable_shared_from_this<TaskCore>
{
public:
    using ProgressCallback = std::function<void(const Progress &)>;
    using OutputCallback = std::function<void(const OutputChunk &)>;
    // Output waiting for delivery. With an output callback (a consumer that asked for the
    // stream) nothing is dropped: at maxPendingOutput appendOutput() tells the producer to
    // pause until the context thread has taken it (back-pressure). Without one, only the
    // newest maxPendingOutput bytes wait and the rest is counted as dropped. A producer that
    // ignores back-pressure is cut at hardPendingOutput (counted too).
    static constexpr qint64 maxPendingOutput = 1 << 20;
    static constexpr qint64 hardPendingOutput = 4 * maxPendingOutput;
    using StateCallback = std::function<void(TaskState)>;
    using CoreCallback = std::function<void(TaskCore &)>;

    // context: whose thread receives callbacks; if it is destroyed, deliveries stop and the
    // task is cancelled. nullptr: deliveries go to the creating thread, unguarded.
    TaskCore(QObject *context, QString kind, QString name);
    virtual ~TaskCore();
    TaskCore(const TaskCore &) = delete;
    TaskCore &operator=(const TaskCore &) = delete;

    struct Private; // taskcore_p.h; named here for taskdelivery.cpp's helpers, not API

    // Consumer side: what a handle reads and registers.
    quint64 id() const;
    QString kind() const;
    QString name() const;
    void setName(const QString &name);
    QObject *context() const; // may be dangling: compare only
    // The task this one is shown under by monitors; 0: none. Lock-free.
    quint64 parentId() const;
    // Ignored if parentId is this task's own id; marks the task changed for monitors.
    void setParentId(quint64 parentId);

    // Lock-free (awaiting a finished task is a hot path): a final state read here implies the
    // result or error stored before it.
    TaskState state() const { return m_publishedState.load(std::memory_order_acquire); }
    Progress progress() const;
    Error error() const;
    TaskTimes times() const;
    ProcessInfo processInfo() const;
    TaskSnapshot snapshot() const; // one lock for all of it: a monitor reads thousands a tick
    qint64 droppedOutputBytes() const; // output dropped (see maxPendingOutput)
    bool isCancellationRequested() const;
    // Blocks the calling thread until a final state or the timeout; true if final.
    bool waitForFinished(std::chrono::milliseconds timeout) const;

    // Cancelling a Queued task ends it Cancelled at once; otherwise sets the request, runs the
    // cancel handler once, and the producer decides when it has stopped.
    void requestCancel();

    void addProgressCallback(ProgressCallback cb);
    void addStateCallback(StateCallback cb);
    void addOutputCallback(OutputCallback cb);
    // One-shot, called once the final state has been delivered; added late, still called.
    void addFinishedCallback(CoreCallback cb);
    // Called on the finishing thread right after the final state is set (at once if final).
    void addCompletionHook(CoreCallback hook);
    // True once anyone asked to hear about the end (a finished callback or a completion hook)
    // or read it through a handle (readState()).
    bool isObserved() const;
    // The state, as a handle reads it: reading a final state counts as observing the end,
    // whichever handle type reads it (a coroutine's unobserved failure is reported).
    TaskState readState() const
    {
        const TaskState s = state();
        if (isFinalState(s))
            m_endRead.store(true, std::memory_order_relaxed);
        return s;
    }

protected:
    // Producer side, reached through TaskPromise. Transitions that are not forward moves are
    // ignored and return false.
    // Once, right after construction (needs shared_from_this): registers the task with the
    // monitor registry and the context guard.
    void attach();
    bool markStarting();
    bool markRunning();
    void setProgressRange(qint64 minimum, qint64 maximum);
    void setProgressValue(qint64 value);
    void setProgressValue(qint64 value, const QString &text);
    void setProgressText(const QString &text);
    void setStage(const Stage &stage);
    void setProgress(const Progress &progress);
    // Changes the progress in place under the task's lock (fn(Progress &)), so that reading,
    // modifying and writing it back is one atomic step even with several reporters.
    template<typename F> void updateProgress(F &&fn)
    {
        updateProgressWith(
            [](void *f, Progress &p) { (*static_cast<std::remove_reference_t<F> *>(f))(p); }, &fn);
    }
    // False: pause producing output until the resume handler runs (back-pressure).
    [[nodiscard]] bool appendOutput(OutputChunk::Stream stream, const QByteArray &data);
    // Called once on the context thread after appendOutput() returned false, when the
    // pending output has been delivered (or will never be: the task ended).
    void setOutputResumeHandler(std::function<void()> handler);
    void setProcessInfo(const ProcessInfo &info); // monitor only, no delivery
    // Hands fn to the context's thread, to run there once, after the progress and before any
    // final-state callback. A newer one replaces one that has not run yet (latest wins), and
    // fn is told how many were replaced since the last one ran. Wakes the context's thread at
    // once. False (fn dropped) once the task is final.
    bool postLatest(std::function<void(quint64 replaced)> fn);
    // Runs on the thread that calls requestCancel() first; used to interrupt the work
    // (send a cancel message, remove from a queue). Set before the task can be cancelled.
    void setCancelHandler(std::function<void()> handler);
    bool finish(); // → Finished; the subclass stored the result first
    bool fail(Error error); // → Failed
    bool finishCancelled(); // → Cancelled

private:
    friend class offload::TaskControl;
    friend class offload::TaskPromiseBase;
    template<typename T> friend class offload::TaskPromise;
    friend struct Access;
    friend struct TaskCoreAccess;

    // Dispatcher side (context thread only), through TaskCoreAccess. fromDelayList: the
    // coalescing timer called.
    void deliver(bool fromDelayList);
    bool finalize(TaskState state, Error *error);
    void unlinkFromContext();
    enum class Change { Lazy, Final };
    void notifyChanged(Change change);
    void updateProgressWith(void (*apply)(void *, Progress &), void *fn);
    std::unique_ptr<Private> d;
    // A copy of the state, written under the mutex at every transition.
    std::atomic<TaskState> m_publishedState { TaskState::Queued };
    // The final state was read through a handle. Relaxed: the handle that read it is released
    // (acquire-release) before an unobserved failure is looked for.
    mutable std::atomic<bool> m_endRead { false };
};

// Typed result storage. The value is written once by the producer before finish() and read
// only after the final state is observed (the core's mutex orders the two).
template<typename T> class TaskResultCore : public TaskCore
{
public:
    using TaskCore::TaskCore;
    const T &value() const { return *m_value; }

protected:
    template<typename U> bool finishWith(U &&value)
    {
        if (isFinalState(state()))
            return false;
        m_value.emplace(std::forward<U>(value));
        return finish();
    }

private:
    template<typename U> friend class offload::TaskPromise;
    std::optional<T> m_value;
};

template<> class TaskResultCore<void> : public TaskCore
{
public:
    using TaskCore::TaskCore;

protected:
    bool finishWith() { return finish(); }

private:
    template<typename U> friend class offload::TaskPromise;
};

} // namespace offload::detail
