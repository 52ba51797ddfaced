#include <offload/core/threadpool.h>

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QThread>

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcPool, "offload.pool")

namespace offload {

namespace {
thread_local const void *t_currentPool = nullptr;
} // namespace

struct ThreadPool::State : std::enable_shared_from_this<State>
{
    struct Job
    {
        std::shared_ptr<detail::TaskCore> core;
        ThreadPool::Job *job = nullptr; // the same object as core
    };
    // A FIFO of jobs that keeps its buffer (up to 1024 jobs' worth once it empties, so that a
    // burst's buffer is not kept for ever): in a steady stream of submissions nothing is
    // allocated or freed under the pool's mutex. (A std::deque frees a block every few dozen
    // pops and a map level that empties was erased and re-created: memory allocated on the
    // submitting thread and freed on a pool thread, which made the two fight over malloc's
    // arena lock and cost 40% of the delivered throughput.)
    class Ring
    {
    public:
        bool empty() const { return m_size == 0; }
        void push(Job job)
        {
            if (m_size == m_slots.size())
                grow();
            m_slots[(m_head + m_size) % m_slots.size()] = std::move(job);
            ++m_size;
        }
        Job pop()
        {
            Job job = std::move(m_slots[m_head]);
            m_head = (m_head + 1) % m_slots.size();
            if (--m_size == 0 && m_slots.size() > keptSlots) {
                std::vector<Job>().swap(m_slots); // a burst is over: do not keep its buffer
                m_head = 0;
            }
            return job;
        }
        template<typename F> void forEach(F f) const
        {
            for (size_t i = 0; i < m_size; ++i)
                f(m_slots[(m_head + i) % m_slots.size()]);
        }

    private:
        static constexpr size_t keptSlots = 1024;
        void grow()
        {
            std::vector<Job> slots(std::max<size_t>(16, 2 * m_slots.size()));
            for (size_t i = 0; i < m_size; ++i)
                slots[i] = std::move(m_slots[(m_head + i) % m_slots.size()]);
            m_slots.swap(slots);
            m_head = 0;
        }
        std::vector<Job> m_slots;
        size_t m_head = 0, m_size = 0;
    };
    // Priority → FIFO of jobs. An emptied level is kept for the next submission unless many
    // levels exist. A queued task that is cancelled ends Cancelled at once (TaskCore does
    // that); its job stays here until a thread pops and skips it, which costs no per-task
    // cancel handler.
    using Queue = std::map<int, Ring, std::greater<>>;
    static constexpr size_t keptLevels = 4;

    ThreadPoolOptions options;
    int maxThreads = 1;
    int baseNice = 0;
    mutable std::mutex mutex;
    std::condition_variable workCv;
    std::condition_variable exitCv;
    Queue queue;
    size_t queued = 0; // jobs in queue, cancelled ones included
    std::atomic<size_t> queuedHint { 0 }; // queued, readable without the mutex (spin check)
    std::vector<std::shared_ptr<detail::TaskCore>> running; // one slot per thread
    std::vector<std::thread> threads;
    int liveThreads = 0;
    int waiting = 0;
    // Threads looking for work before they sleep. A submission while one looks needs no
    // futex wake-up: the looking thread re-checks the queue under the mutex before it sleeps.
    std::atomic<int> spinning { 0 };
    bool stopping = false;

    void workerLoop(int index);
    void lowerPriority(int index) const;
};

void ThreadPool::State::lowerPriority(int index) const
{
    const pid_t tid = pid_t(::syscall(SYS_gettid));
    if (options.niceness != 0) {
        const int target = std::clamp(baseNice + options.niceness, -20, 19);
        if (::setpriority(PRIO_PROCESS, id_t(tid), target) != 0)
            qCWarning(lcPool, "could not lower the priority of pool thread %d", index);
    }
    const QByteArray name
        = (options.name.left(10) + QLatin1Char('-') + QString::number(index)).toUtf8();
    ::pthread_setname_np(::pthread_self(), name.constData());
}

void ThreadPool::State::workerLoop(int index)
{
    lowerPriority(index);
    t_currentPool = this;
    std::unique_lock lock(mutex);
    for (;;) {
        if (queued == 0 && !stopping) {
            // Look for new work for a few microseconds before sleeping: a burst of small
            // submissions then costs no futex wake-up per task. Bounded, and at this thread's
            // lowered priority, so an idle pool still sleeps almost at once.
            spinning.fetch_add(1);
            lock.unlock();
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(20);
            while (queuedHint.load(std::memory_order_relaxed) == 0
                && std::chrono::steady_clock::now() < until)
                std::this_thread::yield();
            lock.lock();
            spinning.fetch_sub(1);
        }
        ++waiting;
        workCv.wait(lock, [this] { return stopping || queued > 0; });
        --waiting;
        if (queued == 0)
            break; // stopping
        auto level = queue.begin();
        while (level->second.empty())
            ++level; // queued > 0: a non-empty level exists
        Job job = level->second.pop();
        if (level->second.empty() && queue.size() > keptLevels)
            queue.erase(level);
        --queued;
        queuedHint.store(queued, std::memory_order_relaxed);
        running[size_t(index)] = job.core;
        // Submissions skipped the wake-up while a thread was looking; that thread took one
        // job, so it passes the wake-up on for the rest.
        const bool passOn = queued > 0 && waiting > 0 && spinning.load() == 0;
        lock.unlock();
        if (passOn)
            workCv.notify_one();
        job.job->execute(); // starts the task unless it was cancelled while queued
        job = {}; // release our reference outside the lock
        lock.lock();
        running[size_t(index)].reset();
    }
    --liveThreads;
    exitCv.notify_all();
}

ThreadPool::ThreadPool(ThreadPoolOptions options) : m_state(std::make_shared<State>())
{
    m_state->options = std::move(options);
    m_state->maxThreads = m_state->options.maxThreads > 0
        ? m_state->options.maxThreads
        : std::max(1, QThread::idealThreadCount());
    errno = 0;
    const int nice = ::getpriority(PRIO_PROCESS, id_t(::syscall(SYS_gettid)));
    m_state->baseNice = errno == 0 ? nice : 0;
}

ThreadPool::~ThreadPool()
{
    shutdown();
}

namespace {
void shutdownGlobalPool()
{
    ThreadPool::globalInstance()->shutdown();
}
} // namespace

ThreadPool *ThreadPool::globalInstance()
{
    static ThreadPool *pool = [] {
        auto *p = new ThreadPool; // shut down, never deleted: callers may still hold it at exit
        if (QCoreApplication::instance())
            qAddPostRoutine(shutdownGlobalPool); // application quit: cancel and bounded wait
        std::atexit(shutdownGlobalPool);
        return p;
    }();
    return pool;
}

int ThreadPool::maxThreads() const
{
    return m_state->maxThreads;
}

int ThreadPool::threadCount() const
{
    std::lock_guard lock(m_state->mutex);
    return int(m_state->threads.size());
}

int ThreadPool::activeCount() const
{
    std::lock_guard lock(m_state->mutex);
    return int(std::count_if(m_state->running.begin(), m_state->running.end(),
        [](const auto &core) { return bool(core); }));
}

int ThreadPool::queuedCount() const
{
    int count = 0;
    std::lock_guard lock(m_state->mutex);
    for (const auto &[priority, jobs] : m_state->queue) {
        jobs.forEach([&count](const State::Job &job) {
            count += job.core->state() == TaskState::Queued ? 1 : 0;
        });
    }
    return count;
}

void ThreadPool::submit(std::shared_ptr<detail::TaskCore> core, Job *job, int priority)
{
    State &s = *m_state;
    bool notify = false;
    {
        std::unique_lock lock(s.mutex);
        if (s.stopping) {
            lock.unlock();
            core->requestCancel(); // shut down: the task never starts
            return;
        }
        s.queue[priority].push(State::Job { std::move(core), job });
        ++s.queued;
        s.queuedHint.store(s.queued, std::memory_order_relaxed);
        if (s.waiting < int(s.queued) && int(s.threads.size()) < s.maxThreads) {
            const int index = int(s.threads.size());
            ++s.liveThreads;
            s.running.emplace_back();
            s.threads.emplace_back([state = m_state, index] { state->workerLoop(index); });
        } else {
            notify = s.waiting > 0 && s.spinning.load() == 0;
        }
    }
    // Outside the lock: a woken thread must not block at once on the mutex we still hold.
    if (notify)
        s.workCv.notify_one();
}

void ThreadPool::shutdown()
{
    State &s = *m_state;
    State::Queue queued;
    std::vector<std::shared_ptr<detail::TaskCore>> running;
    {
        std::lock_guard lock(s.mutex);
        if (s.stopping)
            return;
        s.stopping = true;
        queued.swap(s.queue);
        s.queued = 0;
        s.queuedHint.store(0, std::memory_order_relaxed);
        for (auto &core : s.running) {
            if (core)
                running.push_back(core);
        }
    }
    s.workCv.notify_all();
    for (auto &[priority, jobs] : queued)
        jobs.forEach([](const State::Job &job) { job.core->requestCancel(); });
    queued.clear();
    for (auto &core : running)
        core->requestCancel();

    std::vector<std::thread> threads;
    bool allExited = false;
    {
        std::unique_lock lock(s.mutex);
        if (t_currentPool != &s) // never wait for ourselves from inside a task
            allExited = s.exitCv.wait_for(
                lock, s.options.shutdownTimeout, [&s] { return s.liveThreads == 0; });
        threads.swap(s.threads);
        if (!allExited && s.liveThreads > 0) {
            QStringList names;
            for (auto &core : s.running) {
                if (core)
                    names << core->name();
            }
            qCWarning(lcPool, "%s: %d task(s) ignored cancellation for %lld ms; detaching: %s",
                qPrintable(s.options.name), int(names.size()),
                qint64(s.options.shutdownTimeout.count()), qPrintable(names.join(u", ")));
        }
    }
    for (auto &t : threads) {
        if (allExited)
            t.join();
        else
            t.detach(); // the thread owns a reference to State; nothing it touches dangles
    }
}

} // namespace offload
