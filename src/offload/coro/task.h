// offload::Task<T>: a C++20 coroutine that is itself an Offload task, and co_await on any task.
#pragma once

#include <offload/core/taskpromise.h>
#include <offload/coro/corostate.h>

#include <QObject>

#include <coroutine>
#include <optional>
#include <type_traits>
#include <variant>

namespace offload {

template<typename T> class Task;

// A coroutine task. Start: EAGER — calling the coroutine runs its body at once, up to its
// first co_await, on the calling thread. Qt slots are called by signals and nobody awaits
// them; with a lazy start such a slot would never run. The whole body runs on the thread of
// the coroutine's context object: called from another thread, it starts there, through a
// posted event (its reference parameters must then outlive the call, as after any co_await).
//
// Context: for a member function of a QObject subclass, the object; else the first parameter
// if it is a QObject pointer or reference; else none (resumption on the starting thread).
// When the context is destroyed, the coroutine is cancelled: what it awaits is cancelled, its
// frame destroyed (locals' destructors run) and it is never resumed into the dead object.
//
// It is an Offload task: a TaskHandle<T> with states, progress, cancel() from any thread,
// onResult/onError, toFuture(), shown in the monitor (kind "coroutine"). Cancelling it cancels
// the awaited operation (a thread task's token, a worker call, a program run's process tree,
// another Task, a QFuture) and ends the coroutine Cancelled — never Failed. An exception
// leaving the body fails it with the exception's type and message (a worker's traceback
// included); one that nobody observes goes to the UnhandledErrorHandler.
//
// Thread-safety: a Task may be copied, cancelled and queried from any thread. Offload's
// awaitables may be awaited only inside an offload::Task coroutine.
template<typename T = void> class Task : public TaskHandle<T>
{
public:
    struct promise_type;
    Task() = default;
    Task(const Task &other) : TaskHandle<T>(other), m_state(other.m_state) { retain(); }
    Task(Task &&other) noexcept : TaskHandle<T>(std::move(other)), m_state(std::move(other.m_state))
    { }
    Task &operator=(const Task &other)
    {
        Task copy(other);
        swap(copy);
        return *this;
    }
    Task &operator=(Task &&other) noexcept
    {
        Task moved(std::move(other));
        swap(moved);
        return *this;
    }
    ~Task()
    {
        if (m_state)
            m_state->release();
    }

private:
    friend struct promise_type;
    Task(TaskHandle<T> handle, std::shared_ptr<detail::CoroState> state)
        : TaskHandle<T>(std::move(handle)), m_state(std::move(state))
    {
        retain();
    }
    void retain()
    {
        if (m_state)
            m_state->retain();
    }
    void swap(Task &other) noexcept
    {
        std::swap(this->m_core, other.m_core);
        std::swap(m_state, other.m_state);
    }
    std::shared_ptr<detail::CoroState> m_state;
};

namespace detail {

template<typename A> QObject *contextOf(A &arg)
{
    using D = std::remove_cvref_t<A>;
    if constexpr (std::is_base_of_v<QObject, D>)
        return const_cast<QObject *>(static_cast<const QObject *>(&arg));
    else if constexpr (
        std::is_pointer_v<
            D> && std::is_base_of_v<QObject, std::remove_cv_t<std::remove_pointer_t<D>>>)
        return const_cast<QObject *>(static_cast<const QObject *>(arg));
    else
        return nullptr;
}

template<typename... Args> QObject *firstContext(Args &...args)
{
    if constexpr (sizeof...(Args) == 0)
        return nullptr;
    else
        return [](auto &first, auto &...) { return contextOf(first); }(args...);
}

// A coroutine called on its own thread starts at once. Called from another thread (a member
// coroutine of an object living in a worker thread, called from the GUI), its start is posted
// to its thread, so that the whole body runs there — even an await of a finished task, which
// does not suspend, can then never leave it on the caller's thread.
struct StartAwaiter
{
    CoroState *state;
    bool await_ready() const noexcept { return state->isOnItsThread(); }
    void await_suspend(std::coroutine_handle<>) const noexcept
    {
        state->postResume(state->suspend(nullptr));
    }
    void await_resume() const noexcept { }
};

// What every Offload awaiter needs from the promise it is awaited in.
struct PromiseBase
{
    std::shared_ptr<CoroState> state;
};

template<typename P> CoroState &stateOf(std::coroutine_handle<P> h)
{
    static_assert(std::is_base_of_v<PromiseBase, P>,
        "Offload awaitables can be awaited only in an offload::Task coroutine");
    return *h.promise().state;
}

template<typename T> struct ValueOf
{
    using type = T;
};
template<> struct ValueOf<void>
{
    using type = std::monostate;
};
template<typename T> using Value = typename ValueOf<T>::type;

template<typename T> Value<T> valueOf(const TaskHandle<T> &h)
{
    if constexpr (std::is_void_v<T>) {
        h.result();
        return {};
    } else {
        return h.result();
    }
}

template<typename T> struct PromiseResult
{
    std::optional<T> value;
    template<typename U> void return_value(U &&v) { value.emplace(std::forward<U>(v)); }
    void finishTask(const TaskPromise<T> &p) { p.finish(std::move(*value)); }
};
template<> struct PromiseResult<void>
{
    void return_void() { }
    void finishTask(const TaskPromise<void> &p) { p.finish(); }
};

} // namespace detail

template<typename T> struct Task<T>::promise_type : detail::PromiseBase, detail::PromiseResult<T>
{
    template<typename... Args>
    explicit promise_type(Args &...args)
        : m_producer(
            detail::firstContext(args...), QStringLiteral("coroutine"), QStringLiteral("coroutine"))
    {
        state = std::make_shared<detail::CoroState>(
            m_producer.handle(), m_producer.control(), detail::firstContext(args...));
        state->start(std::coroutine_handle<promise_type>::from_promise(*this), m_producer);
    }
    // Then m_producer goes: a frame destroyed before the end (cancelled while suspended, its
    // context gone) ends the task Cancelled once the locals' destructors have run.
    ~promise_type() { state->frameDestroyed(); }

    Task<T> get_return_object() { return Task<T>(m_producer.handle(), state); }
    // Eager on the coroutine's thread; called from any other thread, it starts there instead.
    detail::StartAwaiter initial_suspend() noexcept { return detail::StartAwaiter { state.get() }; }
    std::suspend_never final_suspend() noexcept
    {
        // The body's scope has ended (locals destroyed); now the task ends.
        if (m_cancelled) {
            m_producer.finishCancelled();
        } else if (m_error) {
            m_producer.fail(*m_error);
            state->failed();
        } else {
            state->completeProgress(); // whatever its weights added up to, it is done
            this->finishTask(m_producer);
        }
        return {};
    }
    void unhandled_exception()
    {
        try {
            throw;
        } catch (const CancelledError &) {
            m_cancelled = true; // an awaited task was cancelled: so is this one
        } catch (...) {
            m_error = errorFromCurrentException();
        }
    }

private:
    TaskPromise<T> m_producer;
    std::optional<Error> m_error;
    bool m_cancelled = false;
};

namespace detail {

// co_await on any Offload task (thread task, worker call, program run, Task<U>). It refers to
// the awaited task's core without owning it: the handle owns it while the await is ready, and
// when it suspends, the cancel function handed to CoroState::suspend owns it until the
// coroutine has resumed (so `co_await m_member` survives m_member being reassigned meanwhile).
// Awaiting a finished task is thus two loads and no store of our own.
template<typename U> struct HandleAwaiter
{
    explicit HandleAwaiter(const TaskHandle<U> &t)
        : core(static_cast<TaskResultCore<U> *>(Access::core(t).get()))
    { }
    TaskResultCore<U> *core;

    bool await_ready() const { return core->state() == TaskState::Finished; }
    template<typename P> void await_suspend(std::coroutine_handle<P> h)
    {
        CoroState &st = stateOf(h);
        // shared() twice on this slow path: one local copy instead changed GCC 12's layout of
        // the ready loop and cost ~0.4 ns per ready await (bench_coro await_ready, 1.3 vs 0.84).
        const quint64 generation = st.suspend([c = shared()] { c->requestCancel(); });
        shared()->addCompletionHook([state = st.shared_from_this(), generation](
                                        TaskCore &) { state->postResume(generation); });
    }
    Value<U> await_resume()
    {
        if (core->state() == TaskState::Finished) { // the common case, without checks
            if constexpr (std::is_void_v<U>)
                return {};
            else
                return core->value();
        }
        return valueOf(Access::typedHandle<U>(shared())); // throws failure or CancelledError
    }

protected:
    std::shared_ptr<TaskResultCore<U>> shared() const
    {
        return std::static_pointer_cast<TaskResultCore<U>>(core->shared_from_this());
    }
};

// The same, and the task's progress fills a share of the awaiting coroutine's progress. The
// progress callback stays registered with the awaited task (a core cannot drop one), and its
// deliveries may come after the coroutine has resumed (the end's progress and the wake-up
// are posted separately): the await's token makes every report after await_resume a no-op.
template<typename U> struct WeightedAwaiter : HandleAwaiter<U>
{
    WeightedAwaiter(const TaskHandle<U> &t, double w) : HandleAwaiter<U>(t), weight(w) { }
    double weight;

    bool await_ready() const { return false; } // registers the progress first
    template<typename P> bool await_suspend(std::coroutine_handle<P> h)
    {
        CoroState &st = stateOf(h);
        m_state = st.shared_from_this();
        m_token = st.beginWeighted(weight);
        this->shared()->addProgressCallback(
            [state = std::weak_ptr<CoroState>(m_state), token = m_token](const Progress &p) {
                if (const auto s = state.lock())
                    s->reportWeighted(token, p.maximum > p.minimum ? p.fraction() : 0.0, p.text);
            });
        if (isFinalState(this->core->state()))
            return false;
        HandleAwaiter<U>::await_suspend(h);
        return true;
    }
    Value<U> await_resume()
    {
        m_state->endWeighted(m_token);
        return HandleAwaiter<U>::await_resume();
    }

private:
    std::shared_ptr<CoroState> m_state;
    quint64 m_token = 0;
};

// co_await thisTask(): the running coroutine's own control.
struct ThisTaskAwaiter;

} // namespace detail

template<typename U> detail::HandleAwaiter<U> operator co_await(const TaskHandle<U> &task)
{
    return detail::HandleAwaiter<U>(task);
}

// co_await weighted(task, 0.6): while awaited, the task's progress fills the next 60% of the
// coroutine's progress (after what it reported or awaited before); its text is passed on.
template<typename U> detail::WeightedAwaiter<U> weighted(const TaskHandle<U> &task, double weight)
{
    return detail::WeightedAwaiter<U>(task, std::max(0.0, weight));
}

// The running coroutine's own progress, name and cancellation, from inside it:
//   auto self = co_await offload::thisTask();  self.setProgress(0.5, "half way");
// Coroutine thread only.
class CoroControl
{
public:
    // NaN counts as 0; the rest is clamped to [0, 1] (Progress::valueFromFraction).
    void setProgress(double fraction, const QString &text = {})
    {
        m_state->setProgress(fraction, text);
    }
    void setName(const QString &name) { m_state->core()->setName(name); }
    bool isCancellationRequested() const { return m_state->isCancellationRequested(); }

private:
    friend struct detail::ThisTaskAwaiter;
    explicit CoroControl(std::shared_ptr<detail::CoroState> state) : m_state(std::move(state)) { }
    std::shared_ptr<detail::CoroState> m_state;
};

namespace detail {
struct ThisTaskAwaiter
{
    std::shared_ptr<CoroState> state;
    bool await_ready() const { return false; }
    template<typename P> bool await_suspend(std::coroutine_handle<P> h)
    {
        state = stateOf(h).shared_from_this();
        return false; // never suspends
    }
    CoroControl await_resume() { return CoroControl(std::move(state)); }
};
} // namespace detail

inline detail::ThisTaskAwaiter thisTask()
{
    return {};
}

} // namespace offload
