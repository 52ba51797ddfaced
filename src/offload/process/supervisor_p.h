// Private: the one supervisor thread that owns all process I/O for every pool and program run.
// It waits in epoll on sockets, pipes and pidfds, runs timers, and executes commands posted by
// other threads; everything it hands to tasks goes through their TaskPromise (so the GUI thread
// only receives coalesced deliveries).
#pragma once

#include <offload/core/taskpromise.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

namespace offload::detail {

class Supervisor
{
public:
    using Clock = std::chrono::steady_clock;
    using IoHandler = std::function<void(uint32_t events)>;

    static Supervisor &instance();

    // Any thread: run fn on the supervisor thread, in posting order.
    void post(std::function<void()> fn);
    bool isCurrentThread() const { return std::this_thread::get_id() == m_threadId; }

    // Supervisor thread only. Handlers may add or remove watches and timers, including their own.
    uint64_t watch(int fd, uint32_t events, IoHandler handler);
    void modify(uint64_t token, uint32_t events);
    void unwatch(uint64_t token); // before closing the fd
    uint64_t addTimer(Clock::time_point when, std::function<void()> fn);
    uint64_t addTimer(std::chrono::milliseconds after, std::function<void()> fn)
    {
        return addTimer(Clock::now() + after, std::move(fn));
    }
    void cancelTimer(uint64_t id);
    // Runs fn at the end of the current loop iteration, after all ready events and posted
    // commands (used to coalesce writes).
    void deferFlush(std::function<void()> fn) { m_deferred.push_back(std::move(fn)); }
    // An answer is expected soon (a call was sent or just finished): poll briefly before
    // sleeping. Plain traffic such as progress frames does not arm it.
    void expectAnswer() { m_expectAnswer = true; }

private:
    Supervisor();
    void loop();
    void runTimers();
    int msUntilNextTimer() const;

    struct Watch
    {
        int fd;
        std::shared_ptr<IoHandler> handler; // shared: a handler may unwatch itself mid-call
    };
    int m_epoll = -1;
    int m_wakeFd = -1;
    std::thread::id m_threadId;
    std::mutex m_mutex; // guards m_posted
    std::vector<std::function<void()>> m_posted;
    std::unordered_map<uint64_t, Watch> m_watches;
    std::multimap<Clock::time_point, uint64_t> m_timerQueue;
    std::unordered_map<uint64_t, std::pair<Clock::time_point, std::function<void()>>> m_timers;
    uint64_t m_nextToken = 1;
    std::vector<std::function<void()>> m_deferred;
    bool m_expectAnswer = false;
};

// The submit sequence of every task the supervisor runs (worker calls, program runs), on the
// submitting thread, once the item's promise exists: refused (Cancelled, never
// started) when its owner no longer accepts work; else given a cancel handler that reaches the
// owner on the supervisor thread (while the owner lives), and queued there. Owner needs
// `std::atomic<bool> accepting`, `enqueue(std::shared_ptr<Item>)` and `cancel(quint64 id)`;
// Item needs `task` (its TaskPromise) and `id`.
template<typename Owner, typename Item>
void submitToSupervisor(const std::shared_ptr<Owner> &owner, std::shared_ptr<Item> item)
{
    if (!owner->accepting.load()) {
        item->task->finishCancelled();
        return;
    }
    item->task->setCancelHandler([weak = std::weak_ptr<Owner>(owner), id = item->id] {
        if (auto o = weak.lock())
            Supervisor::instance().post([o, id] { o->cancel(id); });
    });
    Supervisor::instance().post([owner, item = std::move(item)] { owner->enqueue(item); });
}

} // namespace offload::detail
