// CoroState: what an offload::Task coroutine shares with its awaiters and its cancel handler.
// Internal to Offload::Coro (public only because the templates in task.h need it).
#pragma once

#include <offload/core/taskpromise.h>
#include <offload/coro/export.h>

#include <QPointer>
#include <QThread>

#include <atomic>
#include <chrono>
#include <coroutine>
#include <functional>
#include <memory>
#include <mutex>

class QTimer;

namespace offload {

// Called when a coroutine fails and nobody holds its Task, awaits it or listens for its end
// (a slot started by a signal, say). Runs on the coroutine's thread. The default prints a
// warning with the task's name, the error's type (origin) and message.
using UnhandledErrorHandler = std::function<void(const QString &taskName, const Error &error)>;
// Replaces the handler (thread-safe); returns the previous one. An empty handler restores the
// default.
OFFLOAD_CORO_EXPORT UnhandledErrorHandler setUnhandledErrorHandler(UnhandledErrorHandler handler);

namespace detail {

// Thread rules: the frame is resumed and destroyed only on the coroutine's thread (the
// context's thread, else the thread that started it), always from a posted event, never while
// it is running. postResume, cancel and the handle counting may be called from any thread.
class OFFLOAD_CORO_EXPORT CoroState : public std::enable_shared_from_this<CoroState>
{
public:
    CoroState(const TaskHandleBase &task, TaskControl control, QObject *context);
    ~CoroState();
    CoroState(const CoroState &) = delete;
    CoroState &operator=(const CoroState &) = delete;

    // After construction (needs shared_from_this): installs the cancel handler, marks Running.
    void start(std::coroutine_handle<> frame, const TaskPromiseBase &producer);

    // Awaiters, coroutine thread, in await_suspend: the coroutine is about to be suspended;
    // cancelAwaited stops what it waits for, and what it holds lives until the coroutine has
    // resumed (await_resume included). Returns the suspension's generation, which the awaiter
    // hands back to postResume so that a late wake-up can never resume a later await.
    quint64 suspend(std::function<void()> cancelAwaited);
    // Any thread: resume the coroutine (on its thread) at suspension `generation`.
    void postResume(quint64 generation);
    // Whether the calling thread is the coroutine's.
    bool isOnItsThread() const { return QThread::currentThread() == m_thread; }

    // The promise, when the frame goes away (coroutine thread).
    void frameDestroyed() { m_frame = {}; }
    bool isCancellationRequested() const { return m_cancelled.load(std::memory_order_acquire); }
    const std::shared_ptr<TaskCore> &core() const { return m_core; }

    // Task<T> handles: when the last one goes and the coroutine failed unobserved, report it.
    void retain() { m_handles.fetch_add(1, std::memory_order_relaxed); }
    void release();
    void failed(); // the promise, when the coroutine ends Failed

    // Progress, as a fraction of this task's 0..1 (Progress::setFraction: NaN counts as 0,
    // the rest is clamped). Coroutine thread, except reportWeighted.
    // Its own report (CoroControl::setProgress); the next weighted await fills from there.
    void setProgress(double fraction, const QString &text);
    // A weighted await begins: it fills [base, base + weight]. Returns its token.
    quint64 beginWeighted(double weight);
    // Any thread (the awaited task's progress callback): the awaited task's own fraction,
    // applied only while that await is the current one. Once it has ended, nothing it
    // reports changes this task's progress any more (the check and the write are one step).
    void reportWeighted(quint64 token, double fraction, const QString &text);
    // The await has resumed: it is over (late reports are dropped) and its share is filled.
    void endWeighted(quint64 token);
    // Finishing: the progress shows its full range (value == maximum).
    void completeProgress();

private:
    void post(std::function<void()> fn);
    void resume(quint64 generation);
    void onCancelRequested();
    void destroyIfSuspended();
    void reportIfUnobserved();

    std::shared_ptr<TaskCore> m_core;
    TaskControl m_control; // the progress it reports (the frame's promise ends the task)
    QPointer<QObject> m_context;
    const bool m_bound;
    QThread *m_thread
        = nullptr; // the coroutine's thread: the context's at the start, or the caller's
    std::coroutine_handle<> m_frame; // coroutine thread only
    bool m_suspended = false; // coroutine thread only
    quint64 m_generation = 0; // coroutine thread only
    std::atomic<bool> m_cancelled { false };
    std::mutex m_mutex;
    std::function<void()> m_cancelAwaited; // guarded by m_mutex
    std::atomic<int> m_handles { 0 };
    std::atomic<bool> m_failed { false }, m_reported { false };
    std::mutex m_progressMutex; // orders progress writes: a weighted report against its await's end
    double m_progressBase = 0.0; // guarded by m_progressMutex
    quint64 m_weightedToken = 0; // the current weighted await, 0: none; guarded by m_progressMutex
    quint64 m_lastWeightedToken = 0; // guarded by m_progressMutex
    double m_weightedBase = 0.0, m_weight = 0.0; // guarded by m_progressMutex
};

// A single-shot timer for timeouts and delays that never fires before its duration has
// passed on the steady clock. Qt's default (coarse) timers fire up to 5% early, and precise
// ones count whole milliseconds; so it is precise, and if it fires early it re-arms for the
// remainder. Created, fired and destroyed on one thread (the coroutine's); destroying it
// stops it. fired is called once.
class OFFLOAD_CORO_EXPORT SteadyTimer
{
public:
    SteadyTimer(std::chrono::milliseconds duration, std::function<void()> fired);
    ~SteadyTimer();
    SteadyTimer(const SteadyTimer &) = delete;
    SteadyTimer &operator=(const SteadyTimer &) = delete;

private:
    void arm();
    void onTimeout();
    std::unique_ptr<QTimer> m_timer;
    std::chrono::steady_clock::time_point m_deadline;
    std::function<void()> m_fired;
};

} // namespace detail
} // namespace offload
