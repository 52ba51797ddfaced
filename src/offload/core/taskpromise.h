// TaskPromise<T>: the producing side of one task. Whatever runs work as an Offload task (the
// thread pool, worker pools, program runs, coroutines, an adapter of your own) creates it,
// hands out handle(), reports progress and output, and ends it.
#pragma once

#include <offload/core/taskcontrol.h>
#include <offload/core/taskhandle.h>

#include <functional>
#include <memory>
#include <utility>

namespace offload {

// The untyped part of a promise: lifecycle, progress, output, cancellation.
// Thread-safety: every member may be called from any thread (one producer at a time, as
// QPromise); the task's context receives coalesced updates (at most ~60/s, latest wins).
// Move-only: one promise per task. Destroying a promise whose task has not ended ends it
// Cancelled, as QPromise does, so a producer that gives up never leaves a caller waiting.
// A moved-from promise must not be used except to be assigned or destroyed.
class OFFLOAD_CORE_EXPORT TaskPromiseBase
{
public:
    TaskPromiseBase(TaskPromiseBase &&other) noexcept = default;
    TaskPromiseBase &operator=(TaskPromiseBase &&other) noexcept;
    ~TaskPromiseBase();

    quint64 id() const { return m_core->id(); }
    TaskState state() const { return m_core->state(); }
    bool isFinal() const { return isFinalState(state()); }
    void setName(const QString &name) const { m_core->setName(name); }

    // Lifecycle, forward only; a move that is not forward (or after the end) returns false.
    // Queued → Starting: the work is being set up (a process launched, say).
    bool markStarting() const { return m_core->markStarting(); }
    // → Running (from Queued or Starting).
    bool start() const { return m_core->markRunning(); }
    // → Failed with error (kind None becomes Exception).
    bool fail(Error error) const { return m_core->fail(std::move(error)); }
    // → Cancelled: the work has stopped (on request, or because it was given up).
    bool finishCancelled() const { return m_core->finishCancelled(); }

    // Cancellation. The handler runs once, on the thread that cancels first, to interrupt the
    // work (send a cancel message, remove it from a queue): set it before handing out the
    // handle. The task stays Running until the producer ends it (finishCancelled()), except
    // a Queued task, which a cancel ends Cancelled at once.
    void setCancelHandler(std::function<void()> handler) const
    {
        m_core->setCancelHandler(std::move(handler));
    }
    bool isCancellationRequested() const { return m_core->isCancellationRequested(); }

    // Progress (see Progress; TaskControl has the same setters for a thread task's callable).
    void setProgressRange(qint64 minimum, qint64 maximum) const
    {
        m_core->setProgressRange(minimum, maximum);
    }
    void setProgress(qint64 value) const { m_core->setProgressValue(value); }
    void setProgress(qint64 value, const QString &text) const
    {
        m_core->setProgressValue(value, text);
    }
    void setProgress(const Progress &progress) const { m_core->setProgress(progress); }
    void setProgressText(const QString &text) const { m_core->setProgressText(text); }
    void setStage(const Stage &stage) const { m_core->setStage(stage); }
    // A fraction in [0, 1] on the range 0..Progress::fractionScale (Progress::setFraction).
    void setFraction(double fraction) const;
    // Reads, changes and writes the progress back as one step, under the task's lock, even
    // with several reporters: fn(Progress &).
    template<typename F> void updateProgress(F &&fn) const
    {
        m_core->updateProgress(std::forward<F>(fn));
    }

    // Output (a program's stdout/stderr, a worker's log), delivered in order with progress.
    // False: the context's thread is 1 MiB behind a subscriber; stop producing until the
    // resume handler runs (back-pressure). Without a subscriber nothing pauses: only the
    // newest 1 MiB waits and the rest is counted as dropped.
    [[nodiscard]] bool appendOutput(OutputChunk::Stream stream, const QByteArray &data) const
    {
        return m_core->appendOutput(stream, data);
    }
    // Runs once on the context's thread after appendOutput() returned false, when the output
    // has been delivered. If the context is destroyed first, it never runs: the task is asked
    // to cancel instead (the cancel handler), so stop producing there too.
    void setOutputResumeHandler(std::function<void()> handler) const
    {
        m_core->setOutputResumeHandler(std::move(handler));
    }
    // Runs fn once on the context's thread, before the final-state callbacks; a newer one
    // replaces one not yet run (latest wins: a stream of frames to a slower GUI), and fn is
    // told how many were replaced since the last one ran. False once the task is final.
    bool postLatest(std::function<void(quint64 replaced)> fn) const
    {
        return m_core->postLatest(std::move(fn));
    }
    // The process running the task, for monitors (no delivery to callbacks).
    void setProcessInfo(const ProcessInfo &info) const { m_core->setProcessInfo(info); }

    // What the work itself may use: progress and cancellation, copyable.
    TaskControl control() const { return TaskControl(m_core); }

protected:
    explicit TaskPromiseBase(std::shared_ptr<detail::TaskCore> core) : m_core(std::move(core)) { }
    std::shared_ptr<detail::TaskCore> m_core;
};

// Ends with a value of type T (void: none). Create it, hand out handle(), end it once.
//
//     TaskPromise<int> promise(this, "import", "scan.nrrd");
//     auto handle = promise.handle();          // give this to the caller
//     promise.start();
//     promise.setFraction(0.5);
//     promise.finish(42);                      // or fail(Error { ... }), or finishCancelled()
template<typename T> class TaskPromise : public TaskPromiseBase
{
public:
    // A new Queued task, listed in monitors at once. context: whose thread receives the
    // handle's callbacks; if it is destroyed, the task is asked to cancel. nullptr: the
    // calling thread's, which then needs a running event loop for callbacks to arrive. kind is
    // a short word for monitors ("import"), name what the user sees.
    TaskPromise(QObject *context, QString kind, QString name)
        : TaskPromiseBase(
            std::make_shared<detail::TaskResultCore<T>>(context, std::move(kind), std::move(name)))
    {
        detail::Access::attach(*m_core);
    }
    TaskPromise(TaskPromise &&) noexcept = default;
    TaskPromise &operator=(TaskPromise &&) noexcept = default;

    // A handle on the task; as many as you like, from any thread.
    TaskHandle<T> handle() const
    {
        return detail::Access::typedHandle<T>(
            std::static_pointer_cast<detail::TaskResultCore<T>>(m_core));
    }

    // → Finished with value (stored first, so a reader that sees Finished sees it). It does
    // not look at a cancel request: a producer that honours one calls finishCancelled().
    template<typename U = T>
    requires(!std::is_void_v<T> && std::is_constructible_v<T, U &&>) bool finish(U &&value) const
    {
        return static_cast<detail::TaskResultCore<T> &>(*m_core).finishWith(std::forward<U>(value));
    }
    bool finish() const requires std::is_void_v<T>
    {
        return static_cast<detail::TaskResultCore<T> &>(*m_core).finishWith();
    }

private:
    friend struct detail::Access;
    // Adopts a task made elsewhere (the thread pool keeps its callable in the task's own
    // allocation); it is already attached.
    explicit TaskPromise(std::shared_ptr<detail::TaskResultCore<T>> core)
        : TaskPromiseBase(std::move(core))
    { }
};

} // namespace offload
