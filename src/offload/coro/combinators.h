// whenAll, whenAny and withTimeout over Offload tasks (thread tasks, worker calls, program
// runs, Tasks) and, through toTask, any other awaitable (a QFuture, a signal, a delay). Each
// is itself a Task: cancelling it cancels every task it still waits for.
#pragma once

#include <offload/coro/awaitables.h>
#include <offload/coro/task.h>

#include <QTimer>

#include <chrono>
#include <ranges>
#include <tuple>
#include <vector>

namespace offload {

namespace detail {

// Waits until one of the cores is final or the timeout passes: its index, or -1 on timeout.
struct FirstFinished
{
    std::vector<std::shared_ptr<TaskCore>> cores;
    std::chrono::milliseconds timeout { -1 };
    std::unique_ptr<SteadyTimer> timer;
    std::shared_ptr<std::atomic<bool>> fired = std::make_shared<std::atomic<bool>>(false);

    int firstFinal() const
    {
        for (size_t i = 0; i < cores.size(); ++i)
            if (isFinalState(cores[i]->state()))
                return int(i);
        return -1;
    }
    bool await_ready() const { return firstFinal() >= 0; }
    template<typename P> void await_suspend(std::coroutine_handle<P> h)
    {
        CoroState &st = stateOf(h);
        const quint64 generation = st.suspend([cores = cores] {
            for (const auto &c : cores)
                c->requestCancel();
        });
        auto state = st.shared_from_this();
        for (const auto &core : cores) {
            core->addCompletionHook([state, generation, fired = fired](TaskCore &) {
                if (!fired->exchange(true)) // only the first end wakes this await
                    state->postResume(generation);
            });
        }
        if (timeout.count() >= 0) {
            timer = std::make_unique<SteadyTimer>(timeout, [state, generation, fired = fired] {
                if (!fired->exchange(true))
                    state->postResume(generation);
            });
        }
    }
    int await_resume()
    {
        timer.reset();
        return firstFinal();
    }
};

inline void cancelAll(const std::vector<std::shared_ptr<TaskCore>> &cores)
{
    for (const auto &c : cores)
        c->requestCancel();
}

// A finished core's failure or cancellation, rethrown in the awaiting coroutine.
inline void rethrowIfNotFinished(const TaskCore &core)
{
    if (core.state() == TaskState::Failed)
        throw Exception(core.error());
    if (core.state() == TaskState::Cancelled)
        throw CancelledError();
}

// All of them end; the first failure or cancellation cancels the rest and is rethrown.
inline Task<void> allFinished(std::vector<std::shared_ptr<TaskCore>> pending)
{
    while (!pending.empty()) {
        FirstFinished next; // not braced inside co_await: GCC 12 miscompiles that
        next.cores = pending;
        const int i = co_await next;
        const auto core = pending[size_t(i)];
        pending.erase(pending.begin() + i);
        if (core->state() != TaskState::Finished) {
            cancelAll(pending);
            rethrowIfNotFinished(*core);
        }
    }
}

// The index of the first to end; the others are cancelled; its failure is rethrown.
inline Task<std::size_t> firstToEnd(std::vector<std::shared_ptr<TaskCore>> cores)
{
    if (cores.empty())
        throw Exception(Error { ErrorKind::InvalidInput, QStringLiteral("whenAny of no tasks") });
    FirstFinished first;
    first.cores = cores;
    const int winner = co_await first;
    cancelAll(cores); // the losers; the winner is final already
    rethrowIfNotFinished(*cores[size_t(winner)]);
    co_return std::size_t(winner);
}

template<typename T> Task<std::vector<Value<T>>> whenAllRange(std::vector<TaskHandle<T>> tasks)
{
    std::vector<std::shared_ptr<TaskCore>> cores;
    for (const auto &t : tasks)
        cores.push_back(Access::core(t));
    auto all = allFinished(std::move(cores));
    co_await all;
    std::vector<Value<T>> values;
    values.reserve(tasks.size());
    for (const auto &t : tasks)
        values.push_back(valueOf(t));
    co_return values;
}

template<typename T>
Task<std::pair<std::size_t, Value<T>>> whenAnyRange(std::vector<TaskHandle<T>> tasks)
{
    std::vector<std::shared_ptr<TaskCore>> cores;
    for (const auto &t : tasks)
        cores.push_back(Access::core(t));
    auto first = firstToEnd(std::move(cores));
    const std::size_t winner = co_await first;
    co_return std::pair<std::size_t, Value<T>>(winner, valueOf(tasks[winner]));
}

template<typename... Ts> Task<std::tuple<Value<Ts>...>> whenAllOf(TaskHandle<Ts>... tasks)
{
    auto all = allFinished(std::vector<std::shared_ptr<TaskCore>> { Access::core(tasks)... });
    co_await all;
    co_return std::tuple<Value<Ts>...>(valueOf(tasks)...);
}

template<typename... Ts> Task<std::size_t> whenAnyOf(TaskHandle<Ts>... tasks)
{
    auto first = firstToEnd(std::vector<std::shared_ptr<TaskCore>> { Access::core(tasks)... });
    co_return co_await first;
}

template<typename T> Task<T> withTimeoutOf(TaskHandle<T> task, std::chrono::milliseconds timeout)
{
    FirstFinished inTime;
    inTime.cores.push_back(Access::core(task));
    inTime.timeout = timeout;
    const int i = co_await inTime;
    if (i < 0) {
        task.cancel(); // the work itself is stopped, not just the wait
        throw Exception(Error { ErrorKind::Timeout,
            QStringLiteral("'%1' did not finish within %2 ms; it was cancelled")
                .arg(task.name())
                .arg(timeout.count()) });
    }
    if constexpr (std::is_void_v<T>) {
        task.result(); // rethrows its failure or cancellation
        co_return;
    } else {
        co_return task.result();
    }
}

template<typename H>
concept AnyTaskHandle = requires(const H &h)
{
    Access::core(h);
    h.result();
};

// A task as itself; any other awaitable through toTask.
template<typename A> auto asTask(A &&a)
{
    if constexpr (AnyTaskHandle<std::remove_cvref_t<A>>)
        return TaskHandle<typename std::remove_cvref_t<A>::ValueType>(a);
    else
        return toTask(std::forward<A>(a));
}

// A range of handles of one value type, as a vector of TaskHandle<T>.
template<typename R> auto handlesOf(R &&range)
{
    using T = typename std::ranges::range_value_t<R>::ValueType;
    return std::vector<TaskHandle<T>>(std::ranges::begin(range), std::ranges::end(range));
}

} // namespace detail

// All of them: a tuple of their values (std::monostate for void tasks). The first failure or
// cancellation cancels the others and is rethrown (Failed with its error, or Cancelled).
template<typename... Ts>
Task<std::tuple<detail::Value<Ts>...>> whenAll(const TaskHandle<Ts> &...tasks)
{
    return detail::whenAllOf<Ts...>(tasks...);
}

// The same with other awaitables among them: a QFuture, a signal, a delay (see toTask).
template<typename... As>
requires(sizeof...(As) > 0
    && !(detail::AnyTaskHandle<std::remove_cvref_t<As>> && ...)) auto whenAll(As &&...awaitables)
{
    return whenAll(detail::asTask(std::forward<As>(awaitables))...);
}

// A range of tasks of one type: their values in order.
template<std::ranges::input_range R>
requires detail::AnyTaskHandle<std::ranges::range_value_t<R>>
auto whenAll(R &&range)
{
    return detail::whenAllRange(detail::handlesOf(std::forward<R>(range)));
}

// The first to end: its index; the others are cancelled. If it failed or was cancelled, so
// does this.
template<typename... Ts> Task<std::size_t> whenAny(const TaskHandle<Ts> &...tasks)
{
    return detail::whenAnyOf<Ts...>(tasks...);
}

// The same with other awaitables among them; a QFuture loser is cancelled, a wait just ends.
template<typename... As>
requires(sizeof...(As) > 0
    && !(detail::AnyTaskHandle<std::remove_cvref_t<As>> && ...)) auto whenAny(As &&...awaitables)
{
    return whenAny(detail::asTask(std::forward<As>(awaitables))...);
}

// A range: the first to end, as (index, value); the others are cancelled.
template<std::ranges::input_range R>
requires detail::AnyTaskHandle<std::ranges::range_value_t<R>>
auto whenAny(R &&range)
{
    return detail::whenAnyRange(detail::handlesOf(std::forward<R>(range)));
}

// The task's value if it ends in time; otherwise (never before `timeout` has passed on the
// steady clock) the task is cancelled and this fails with kind timeout.
template<typename T>
Task<T> withTimeout(const TaskHandle<T> &task, std::chrono::milliseconds timeout)
{
    return detail::withTimeoutOf<T>(task, timeout);
}

// Any other awaitable: a QFuture is cancelled when time runs out; a signal or a delay stops
// being awaited.
template<typename Awaitable>
requires(!detail::AnyTaskHandle<std::remove_cvref_t<Awaitable>>) auto withTimeout(
    Awaitable awaitable, std::chrono::milliseconds timeout)
{
    return withTimeout(toTask(std::move(awaitable)), timeout);
}

} // namespace offload
