// Awaiting Qt things inside an offload::Task: QFuture<T>, a signal (optionally with a timeout)
// and a delay. Each resumes the coroutine on its own thread through a posted event.
#pragma once

#include <offload/coro/task.h>

#include <QFuture>
#include <QFutureWatcher>
#include <QString>
#include <QTimer>

#include <chrono>
#include <memory>
#include <optional>
#include <tuple>

namespace offload {

namespace detail {

// co_await QFuture<T>: T (or nothing), its exception rethrown, CancelledError if it was
// cancelled. Cancelling the coroutine cancels the future (QtConcurrent::run futures cannot
// stop their function; the coroutine ends Cancelled at once regardless).
template<typename T> struct FutureAwaiter
{
    QFuture<T> future;
    std::unique_ptr<QFutureWatcher<T>> watcher;

    bool await_ready() const { return future.isFinished(); }
    template<typename P> void await_suspend(std::coroutine_handle<P> h)
    {
        CoroState &st = stateOf(h);
        const quint64 generation = st.suspend([f = future]() mutable { f.cancel(); });
        watcher = std::make_unique<QFutureWatcher<T>>();
        const auto wake
            = [state = st.shared_from_this(), generation] { state->postResume(generation); };
        QObject::connect(watcher.get(), &QFutureWatcherBase::finished, watcher.get(), wake);
        QObject::connect(watcher.get(), &QFutureWatcherBase::canceled, watcher.get(), wake);
        watcher->setFuture(future);
    }
    auto await_resume()
    {
        watcher.reset();
        if (future.isCanceled())
            throw CancelledError();
        if constexpr (std::is_void_v<T>)
            future.waitForFinished(); // rethrows the future's exception
        else
            return future.result();
    }
};

// Signal arguments: Q_OBJECT's private tag (an empty class, always last) is not a value.
template<typename... A> struct SignalValue;
template<> struct SignalValue<>
{
    using type = void;
    using tuple = std::tuple<>;
};
template<typename A> struct SignalValue<A>
{
    static constexpr bool tag
        = std::is_empty_v<std::decay_t<A>> && std::is_class_v<std::decay_t<A>>;
    using type = std::conditional_t<tag, void, std::decay_t<A>>;
};
template<typename A, typename B> struct SignalValue<A, B>
{
    static constexpr bool tag
        = std::is_empty_v<std::decay_t<B>> && std::is_class_v<std::decay_t<B>>;
    using type
        = std::conditional_t<tag, std::decay_t<A>, std::tuple<std::decay_t<A>, std::decay_t<B>>>;
};
template<typename A, typename B, typename C, typename... R> struct SignalValue<A, B, C, R...>
{
    using type = std::tuple<std::decay_t<A>, std::decay_t<B>, std::decay_t<C>, std::decay_t<R>...>;
};

template<typename V> using Stored = std::conditional_t<std::is_void_v<V>, std::monostate, V>;

template<typename V, typename... A> V makeSignalValue(const A &...a)
{
    if constexpr (std::is_void_v<V>)
        return;
    else if constexpr (requires { std::tuple_size<V>::value; } && sizeof...(A) > 1)
        return V(a...);
    else
        return [](const auto &first, const auto &...) { return V(first); }(a...);
}

template<bool WithTimeout, typename Sender, typename Signal, typename... A> struct SignalAwaiter
{
    using V = typename SignalValue<A...>::type;
    QPointer<QObject> sender;
    Signal signal;
    std::chrono::milliseconds timeout { 0 };
    std::unique_ptr<QObject> receiver; // lives on the coroutine's thread; its death disconnects
    std::unique_ptr<SteadyTimer> timer;
    std::optional<Stored<V>> value;
    bool senderGone = false, timedOut = false;

    bool await_ready() const { return !sender; }
    template<typename P> void await_suspend(std::coroutine_handle<P> h)
    {
        CoroState &st = stateOf(h);
        const quint64 generation = st.suspend({}); // nothing to stop: cancel just ends the wait
        receiver = std::make_unique<QObject>();
        auto state = st.shared_from_this();
        auto done = std::make_shared<bool>(false);
        const auto finish = [state, generation, done] {
            if (!std::exchange(*done, true))
                state->postResume(generation);
        };
        QObject::connect(static_cast<Sender *>(sender.data()), signal, receiver.get(),
            [this, finish, done](const A &...a) {
                if (*done)
                    return;
                if constexpr (std::is_void_v<V>)
                    value.emplace();
                else
                    value.emplace(makeSignalValue<V>(a...));
                finish();
            });
        QObject::connect(sender.data(), &QObject::destroyed, receiver.get(), [this, finish, done] {
            if (*done)
                return;
            senderGone = true;
            finish();
        });
        if (WithTimeout) {
            timer = std::make_unique<SteadyTimer>(timeout, [this, finish, done] {
                if (*done)
                    return;
                timedOut = true;
                finish();
            });
        }
    }
    auto await_resume()
    {
        timer.reset();
        receiver.reset();
        if constexpr (WithTimeout) {
            return std::move(value); // empty: timed out, or the sender was destroyed
        } else {
            if (!value)
                throw Exception(Error { ErrorKind::Exception,
                    QStringLiteral("the sender was destroyed before it emitted the awaited signal"),
                    QStringLiteral("offload::signal") });
            if constexpr (!std::is_void_v<V>)
                return std::move(*value);
        }
    }
};

struct DelayAwaiter
{
    std::chrono::milliseconds duration;
    std::unique_ptr<SteadyTimer> timer;

    bool await_ready() const { return duration.count() <= 0; }
    template<typename P> void await_suspend(std::coroutine_handle<P> h)
    {
        CoroState &st = stateOf(h);
        const quint64 generation = st.suspend({});
        timer = std::make_unique<SteadyTimer>(duration,
            [state = st.shared_from_this(), generation] { state->postResume(generation); });
    }
    void await_resume() { timer.reset(); }
};

} // namespace detail

template<typename T> detail::FutureAwaiter<T> operator co_await(QFuture<T> future)
{
    return detail::FutureAwaiter<T> { std::move(future), nullptr };
}

// co_await signal(object, &Class::signal): the signal's arguments (nothing, one value, or a
// tuple). Throws offload::Exception if the object is destroyed (or null) before it emits.
template<typename Sender, typename Obj, typename... A>
auto signal(Sender *sender, void (Obj::*sig)(A...))
{
    static_assert(std::is_base_of_v<Obj, Sender>, "the signal must belong to the sender's class");
    return detail::SignalAwaiter<false, Sender, void (Obj::*)(A...), A...> { sender, sig };
}

// The same with a timeout: an empty optional when time runs out (never before `timeout` has
// passed on the steady clock) or the object is destroyed (std::optional<std::monostate> for
// a signal without arguments). Not an exception.
template<typename Sender, typename Obj, typename... A>
auto signal(Sender *sender, void (Obj::*sig)(A...), std::chrono::milliseconds timeout)
{
    static_assert(std::is_base_of_v<Obj, Sender>, "the signal must belong to the sender's class");
    return detail::SignalAwaiter<true, Sender, void (Obj::*)(A...), A...> { sender, sig, timeout };
}

// co_await delay(250ms): resumes after the time on the coroutine's thread, never before it
// has passed on the steady clock (a cancel ends it early).
inline detail::DelayAwaiter delay(std::chrono::milliseconds duration)
{
    return detail::DelayAwaiter { duration, nullptr };
}

namespace detail {
template<typename A> decltype(auto) awaiterOf(A &a)
{
    if constexpr (requires { a.await_ready(); })
        return (a);
    else
        return operator co_await(a);
}
template<typename A>
using AwaitedValue = std::remove_cvref_t<decltype(awaiterOf(std::declval<A &>()).await_resume())>;
} // namespace detail

// Any awaitable (a QFuture, a signal, a delay) as a Task of its value, for whenAll, whenAny
// and withTimeout, the monitor, or callbacks. The Task is unbound: it resumes on the calling
// thread. Cancelling it cancels what it awaits (the QFuture, the wait) and ends it Cancelled.
template<typename Awaitable>
Task<detail::AwaitedValue<Awaitable>> toTask(
    Awaitable awaitable, QString name = QStringLiteral("awaitable"))
{
    auto self = co_await thisTask();
    self.setName(name);
    if constexpr (std::is_void_v<detail::AwaitedValue<Awaitable>>)
        co_await awaitable;
    else
        co_return co_await awaitable;
}

} // namespace offload
