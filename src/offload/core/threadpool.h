// ThreadPool: Offload's own pool of background threads, and run() for callables.
#pragma once

#include <offload/core/taskpromise.h>

#include <chrono>
#include <functional>
#include <type_traits>
#if defined(__GLIBCXX__) // defined by the headers above
#include <cxxabi.h> // abi::__forced_unwind
#endif

namespace offload {

struct ThreadPoolOptions
{
    int maxThreads = 0; // 0: QThread::idealThreadCount()
    int niceness = 10; // added to each pool thread's nice value (Linux); 0 keeps the GUI's
    std::chrono::milliseconds shutdownTimeout { 5000 }; // bounded wait for running tasks at exit
    QString name = QStringLiteral("offload");
};

// Per-task options for run().
struct TaskOptions
{
    QString name; // shown in the monitor; defaults to "thread task"
    int priority = 0; // higher runs first; FIFO among equal priorities
};

// A pool of threads running callables as tasks, at lowered CPU priority so the GUI wins the
// CPU. Threads start on demand up to maxThreads.
// Thread-safety: run() and the getters may be called from any thread. The destructor cancels
// queued tasks, asks running ones to stop, and waits at most shutdownTimeout; threads whose
// work ignores cancellation longer than that are detached (with a warning), never waited on
// forever. globalInstance() is shut down that way when QCoreApplication is destroyed.
class OFFLOAD_CORE_EXPORT ThreadPool
{
public:
    explicit ThreadPool(ThreadPoolOptions options = {});
    ~ThreadPool();
    ThreadPool(const ThreadPool &) = delete;
    ThreadPool &operator=(const ThreadPool &) = delete;

    static ThreadPool *globalInstance();

    int maxThreads() const;
    int threadCount() const; // started so far
    int activeCount() const; // running a task now
    int queuedCount() const;

    // Runs f on a pool thread. f takes either nothing or a TaskControl. Everything about the
    // task is delivered on context's thread; if context is destroyed, the task is cancelled.
    // An exception from f fails the task (see errorFromCurrentException).
    template<typename F> auto run(QObject *context, F &&f, TaskOptions options = {})
    {
        using Fn = std::decay_t<F>;
        using R = typename CallableTraits<Fn>::Result;
        // The callable lives inside the task's own allocation: no per-task job object.
        auto core = std::make_shared<ThreadTaskCore<R, Fn>>(context,
            options.name.isEmpty() ? QStringLiteral("thread task") : options.name,
            std::forward<F>(f));
        detail::Access::attach(*core);
        submit(core, core.get(), options.priority);
        return detail::Access::typedHandle<R>(core);
    }

    // Stops accepting work, cancels everything and waits as the destructor does.
    void shutdown();

private:
    template<typename F, typename = void> struct CallableTraits
    {
        using Result = std::invoke_result_t<F &>;
    };
    template<typename F>
    struct CallableTraits<F, std::enable_if_t<std::is_invocable_v<F &, TaskControl &>>>
    {
        using Result = std::invoke_result_t<F &, TaskControl &>;
    };

    // What a pool thread runs; implemented by ThreadTaskCore, which is a task's state and its
    // callable in one allocation (hence detail:: types here: a template needs them).
    struct Job
    {
        virtual ~Job() = default;
        virtual void execute() = 0;
    };

    template<typename R, typename Fn>
    class ThreadTaskCore final : public detail::TaskResultCore<R>, public Job
    {
    public:
        template<typename F>
        ThreadTaskCore(QObject *context, QString name, F &&fn)
            : detail::TaskResultCore<R>(context, QStringLiteral("thread"), std::move(name))
            , m_fn(std::in_place, std::forward<F>(fn))
        { }

        void execute() override
        {
            auto promise = detail::Access::adopt<R>(
                std::static_pointer_cast<detail::TaskResultCore<R>>(this->shared_from_this()));
            if (promise.markStarting() && promise.start())
                invoke(promise);
            promise.finishCancelled(); // no-op unless cancellation stopped the work
            m_fn.reset(); // release the captures on the pool thread, when the work ends
        }

    private:
        void invoke(const TaskPromise<R> &promise)
        {
            try {
                TaskControl control = promise.control();
                Fn &fn = *m_fn;
                const auto call = [&]() -> decltype(auto) {
                    if constexpr (std::is_invocable_v<Fn &, TaskControl &>)
                        return fn(control);
                    else
                        return fn();
                };
                if constexpr (std::is_void_v<R>) {
                    call();
                    if (!promise.isCancellationRequested())
                        promise.finish();
                } else {
                    auto value = call();
                    if (!promise.isCancellationRequested())
                        promise.finish(std::move(value));
                }
            } catch (const CancelledError &) {
#if defined(__GLIBCXX__)
            } catch (abi::__forced_unwind &) {
                // The thread is being ended (pthread_exit, pthread_cancel, or an embedded
                // interpreter finalizing under it): the unwind must go on, or the process aborts.
                throw;
#endif
            } catch (...) {
                if (!promise.isCancellationRequested())
                    promise.fail(errorFromCurrentException());
            }
        }

        std::optional<Fn> m_fn;
    };

    void submit(std::shared_ptr<detail::TaskCore> core, Job *job, int priority);
    struct State;
    std::shared_ptr<State> m_state;
};

// Runs f on the global pool; see ThreadPool::run.
template<typename F> auto run(QObject *context, F &&f, TaskOptions options = {})
{
    return ThreadPool::globalInstance()->run(context, std::forward<F>(f), std::move(options));
}

} // namespace offload
