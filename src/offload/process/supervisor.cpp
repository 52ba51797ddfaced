#include "supervisor_p.h"

#include <cerrno>
#include <csignal>
#include <utility>

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

namespace offload::detail {

Supervisor &Supervisor::instance()
{
    // Never destroyed: its thread serves pools until the process ends, and children die with
    // the process through PR_SET_PDEATHSIG even if a pool was never shut down.
    static Supervisor *supervisor = new Supervisor;
    return *supervisor;
}

Supervisor::Supervisor()
{
    m_epoll = ::epoll_create1(EPOLL_CLOEXEC);
    m_wakeFd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev {};
    ev.events = EPOLLIN;
    ev.data.u64 = 0; // token 0: the wake-up eventfd
    ::epoll_ctl(m_epoll, EPOLL_CTL_ADD, m_wakeFd, &ev);
    std::thread thread([this] {
        ::pthread_setname_np(::pthread_self(), "offload-io");
        // Writing to a pipe whose reader died raises SIGPIPE in the writing thread; blocked
        // here, the write fails with EPIPE instead, and the application's handlers are untouched.
        sigset_t pipe;
        sigemptyset(&pipe);
        sigaddset(&pipe, SIGPIPE);
        ::pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
        loop();
    });
    m_threadId = thread.get_id();
    thread.detach();
}

void Supervisor::post(std::function<void()> fn)
{
    bool wake = false;
    {
        std::lock_guard lock(m_mutex);
        wake = m_posted.empty();
        m_posted.push_back(std::move(fn));
    }
    if (wake) {
        const uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(m_wakeFd, &one, sizeof one);
    }
}

uint64_t Supervisor::watch(int fd, uint32_t events, IoHandler handler)
{
    const uint64_t token = m_nextToken++;
    epoll_event ev {};
    ev.events = events;
    ev.data.u64 = token;
    if (::epoll_ctl(m_epoll, EPOLL_CTL_ADD, fd, &ev) != 0)
        return 0;
    m_watches.emplace(token, Watch { fd, std::make_shared<IoHandler>(std::move(handler)) });
    return token;
}

void Supervisor::modify(uint64_t token, uint32_t events)
{
    auto it = m_watches.find(token);
    if (it == m_watches.end())
        return;
    epoll_event ev {};
    ev.events = events;
    ev.data.u64 = token;
    ::epoll_ctl(m_epoll, EPOLL_CTL_MOD, it->second.fd, &ev);
}

void Supervisor::unwatch(uint64_t token)
{
    auto it = m_watches.find(token);
    if (it == m_watches.end())
        return;
    ::epoll_ctl(m_epoll, EPOLL_CTL_DEL, it->second.fd, nullptr);
    m_watches.erase(it);
}

uint64_t Supervisor::addTimer(Clock::time_point when, std::function<void()> fn)
{
    const uint64_t id = m_nextToken++;
    m_timers.emplace(id, std::make_pair(when, std::move(fn)));
    m_timerQueue.emplace(when, id);
    return id;
}

void Supervisor::cancelTimer(uint64_t id)
{
    m_timers.erase(id); // its queue entry is skipped when it comes up
}

int Supervisor::msUntilNextTimer() const
{
    for (const auto &[when, id] : m_timerQueue) {
        if (!m_timers.count(id))
            continue;
        const auto ms = std::chrono::ceil<std::chrono::milliseconds>(when - Clock::now()).count();
        return ms < 0 ? 0 : int(std::min<long long>(ms, 60'000));
    }
    return -1;
}

void Supervisor::runTimers()
{
    const auto now = Clock::now();
    while (!m_timerQueue.empty() && m_timerQueue.begin()->first <= now) {
        const uint64_t id = m_timerQueue.begin()->second;
        m_timerQueue.erase(m_timerQueue.begin());
        auto it = m_timers.find(id);
        if (it == m_timers.end())
            continue;
        auto fn = std::move(it->second.second);
        m_timers.erase(it);
        fn();
    }
}

void Supervisor::loop()
{
    epoll_event events[64];
    auto lastActivity = Clock::time_point {};
    for (;;) {
        // After sending a call or finishing one, poll for a hundred microseconds before
        // sleeping: the answer (or the GUI's next call) usually comes within that, and a
        // sleeping thread costs a cold wake-up (15-50 us here) per hop. Only then: polling
        // after every progress frame would take CPU from the GUI thread under load.
        int n = 0;
        while (Clock::now() - lastActivity < std::chrono::microseconds(100)) {
            n = ::epoll_wait(m_epoll, events, 64, 0);
            if (n != 0)
                break;
            std::this_thread::yield();
        }
        if (n == 0)
            n = ::epoll_wait(m_epoll, events, 64, msUntilNextTimer());
        if (n < 0 && errno != EINTR)
            continue;
        for (int i = 0; i < n; ++i) {
            const uint64_t token = events[i].data.u64;
            if (token == 0) {
                uint64_t count;
                [[maybe_unused]] auto r = ::read(m_wakeFd, &count, sizeof count);
                continue;
            }
            auto it = m_watches.find(token);
            if (it == m_watches.end())
                continue; // removed by an earlier handler in this batch
            const auto handler = it->second.handler; // keeps it alive if it unwatches itself
            (*handler)(events[i].events);
        }
        std::vector<std::function<void()>> posted;
        {
            std::lock_guard lock(m_mutex);
            posted.swap(m_posted);
        }
        for (auto &fn : posted)
            fn();
        runTimers();
        while (!m_deferred.empty()) {
            auto deferred = std::exchange(m_deferred, {});
            for (auto &fn : deferred)
                fn();
        }
        if (m_expectAnswer) {
            m_expectAnswer = false;
            lastActivity = Clock::now();
        }
    }
}

} // namespace offload::detail
