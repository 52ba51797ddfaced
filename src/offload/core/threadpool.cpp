#include <offload/core/threadpool.h>

#include <QCoreApplication>
#include <QLoggingCategory>
#include <QThread>

#include <condition_variable>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

Q_LOGGING_CATEGORY(lcPool, "offload.pool")

namespace offload {

void TaskControl::setFraction(double fraction)
{
    constexpr qint64 scale = 1'000'000;
    const double f = fraction != fraction ? 0.0 : std::clamp(fraction, 0.0, 1.0); // NaN → 0
    m_core->setProgress([&] {
        Progress p = m_core->progress();
        p.minimum = 0;
        p.maximum = scale;
        p.value = qint64(f * scale);
        return p;
    }());
}

void TaskControl::throwIfCancellationRequested() const
{
    if (m_core->isCancellationRequested())
        throw CancelledError();
}

namespace {
thread_local const void *t_currentPool = nullptr;
} // namespace

struct ThreadPool::State : std::enable_shared_from_this<State>
{
    struct Job
    {
        std::shared_ptr<detail::TaskCore> core;
        std::function<void()> body;
    };
    using Key = std::pair<int, quint64>; // (-priority, sequence): higher priority first, FIFO

    ThreadPoolOptions options;
    int maxThreads = 1;
    int baseNice = 0;
    mutable std::mutex mutex;
    std::condition_variable workCv;
    std::condition_variable exitCv;
    std::map<Key, Job> queue;
    std::unordered_map<quint64, std::shared_ptr<detail::TaskCore>> running;
    std::vector<std::thread> threads;
    quint64 nextSeq = 0;
    int liveThreads = 0;
    int waiting = 0;
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
    const QByteArray name = (options.name.left(10) + QLatin1Char('-') + QString::number(index)).toUtf8();
    ::pthread_setname_np(::pthread_self(), name.constData());
}

void ThreadPool::State::workerLoop(int index)
{
    lowerPriority(index);
    t_currentPool = this;
    std::unique_lock lock(mutex);
    for (;;) {
        ++waiting;
        workCv.wait(lock, [this] { return stopping || !queue.empty(); });
        --waiting;
        if (queue.empty())
            break; // stopping
        Job job = std::move(queue.begin()->second);
        queue.erase(queue.begin());
        const quint64 id = job.core->id();
        running.emplace(id, job.core);
        lock.unlock();
        if (job.core->markStarting())
            job.body();
        job = {}; // release the callable and its captures outside the lock
        lock.lock();
        running.erase(id);
    }
    --liveThreads;
    exitCv.notify_all();
}

ThreadPool::ThreadPool(ThreadPoolOptions options)
    : m_state(std::make_shared<State>())
{
    m_state->options = std::move(options);
    m_state->maxThreads = m_state->options.maxThreads > 0 ? m_state->options.maxThreads
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

int ThreadPool::maxThreads() const { return m_state->maxThreads; }

int ThreadPool::threadCount() const
{
    std::lock_guard lock(m_state->mutex);
    return int(m_state->threads.size());
}

int ThreadPool::activeCount() const
{
    std::lock_guard lock(m_state->mutex);
    return int(m_state->running.size());
}

int ThreadPool::queuedCount() const
{
    std::lock_guard lock(m_state->mutex);
    return int(m_state->queue.size());
}

void ThreadPool::submit(std::shared_ptr<detail::TaskCore> core, int priority,
                        std::function<void()> body)
{
    State &s = *m_state;
    State::Key key;
    {
        std::lock_guard lock(s.mutex);
        key = {-priority, s.nextSeq++};
    }
    // A queued task that is cancelled leaves the queue at once, releasing its callable.
    core->setCancelHandler([weak = std::weak_ptr<State>(m_state), key] {
        if (auto state = weak.lock()) {
            State::Job removed;
            std::lock_guard lock(state->mutex);
            if (auto it = state->queue.find(key); it != state->queue.end()) {
                removed = std::move(it->second);
                state->queue.erase(it);
            }
        }
    });
    {
        std::unique_lock lock(s.mutex);
        if (!s.stopping) {
            s.queue.emplace(key, State::Job{core, std::move(body)});
            if (s.waiting < int(s.queue.size()) && int(s.threads.size()) < s.maxThreads) {
                const int index = int(s.threads.size());
                ++s.liveThreads;
                s.threads.emplace_back([state = m_state, index] { state->workerLoop(index); });
            } else {
                s.workCv.notify_one();
            }
            return;
        }
    }
    core->requestCancel(); // shut down: the task never starts
}

void ThreadPool::shutdown()
{
    State &s = *m_state;
    std::map<State::Key, State::Job> queued;
    std::vector<std::shared_ptr<detail::TaskCore>> running;
    {
        std::lock_guard lock(s.mutex);
        if (s.stopping)
            return;
        s.stopping = true;
        queued.swap(s.queue);
        for (auto &[id, core] : s.running)
            running.push_back(core);
    }
    s.workCv.notify_all();
    for (auto &[key, job] : queued)
        job.core->requestCancel();
    queued.clear();
    for (auto &core : running)
        core->requestCancel();

    std::vector<std::thread> threads;
    bool allExited = false;
    {
        std::unique_lock lock(s.mutex);
        if (t_currentPool != &s) // never wait for ourselves from inside a task
            allExited = s.exitCv.wait_for(lock, s.options.shutdownTimeout,
                                          [&s] { return s.liveThreads == 0; });
        threads.swap(s.threads);
        if (!allExited && s.liveThreads > 0) {
            QStringList names;
            for (auto &[id, core] : s.running)
                names << core->name();
            qCWarning(lcPool, "%s: %d task(s) ignored cancellation for %lld ms; detaching: %s",
                      qPrintable(s.options.name), int(s.running.size()),
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
