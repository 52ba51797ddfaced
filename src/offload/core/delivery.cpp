#include "delivery_p.h"

#include "taskcore_p.h"

#include <QCoreApplication>
#include <QEvent>
#include <QHash>
#include <QThread>
#include <QTimerEvent>

#include <condition_variable>
#include <thread>
#include <utility>

namespace offload::detail {

namespace {

std::mutex &dispatcherMapMutex()
{
    static std::mutex m;
    return m;
}

QHash<QThread *, std::shared_ptr<DeliveryQueue>> &dispatcherMap()
{
    static QHash<QThread *, std::shared_ptr<DeliveryQueue>> map;
    return map;
}

thread_local Dispatcher *t_dispatcher = nullptr;

// Lookups are cached per calling thread; a removal anywhere bumps the generation and so
// invalidates every cache (an address may be reused by a new thread or object).
std::atomic<quint64> s_dispatcherGeneration { 0 };
std::atomic<quint64> s_guardGeneration { 0 };

struct QueueCache
{
    QThread *thread = nullptr;
    quint64 generation = ~quint64(0);
    std::shared_ptr<DeliveryQueue> queue;
};
thread_local QueueCache t_queueCache;

struct GuardCache
{
    QObject *context = nullptr;
    quint64 generation = ~quint64(0);
    std::shared_ptr<ContextTasks> tasks;
};
thread_local GuardCache t_guardCache;

} // namespace

// One thread for the process: while any queue has lazy work scheduled it wakes every
// coalescing interval and posts the wake-ups that are due; after a second with nothing
// scheduled it sleeps until the next schedule() so an idle application costs nothing.
class LazyWaker
{
public:
    static LazyWaker &instance()
    {
        static LazyWaker *waker = new LazyWaker; // never destroyed: its thread outlives statics
        return *waker;
    }

    void schedule(std::weak_ptr<DeliveryQueue> queue)
    {
        std::lock_guard lock(m_mutex);
        m_scheduled.push_back(std::move(queue));
        if (m_idle) {
            m_idle = false;
            m_cv.notify_one();
        }
    }

private:
    LazyWaker()
    {
        std::thread([this] { loop(); }).detach();
    }

    void loop()
    {
        using namespace std::chrono;
        std::unique_lock lock(m_mutex);
        auto lastWork = steady_clock::now();
        for (;;) {
            if (m_idle) {
                m_cv.wait(lock, [this] { return !m_idle; });
                lastWork = steady_clock::now();
            }
            m_cv.wait_for(lock, Dispatcher::coalescingInterval);
            auto due = std::exchange(m_scheduled, {});
            if (due.empty()) {
                if (steady_clock::now() - lastWork > seconds(1))
                    m_idle = true;
                continue;
            }
            lastWork = steady_clock::now();
            lock.unlock();
            for (auto &weak : due) {
                if (auto queue = weak.lock())
                    queue->wakeIfPending();
            }
            due.clear();
            lock.lock();
        }
    }

    std::mutex m_mutex;
    std::condition_variable m_cv;
    std::vector<std::weak_ptr<DeliveryQueue>> m_scheduled;
    bool m_idle = true;
};

bool DeliveryQueue::claimWakeLocked()
{
    if (m_wakePosted || m_pending.empty())
        return false;
    m_wakePosted = true;
    return true;
}

void DeliveryQueue::post()
{
    std::lock_guard lock(m_postMutex);
    if (!m_receiver)
        return;
    auto *wake = new QEvent(QEvent::Type(Dispatcher::wakeEventType()));
    // Qt hands the event over under a lock ThreadSanitizer cannot see (Debian's Qt is not
    // instrumented); this release, paired with acquirePosted(), states that hand-over.
    m_posted.fetch_add(1, std::memory_order_release);
    QCoreApplication::postEvent(m_receiver, wake);
}

void DeliveryQueue::acquirePosted() const
{
    (void)m_posted.load(std::memory_order_acquire);
}

void DeliveryQueue::enqueue(std::shared_ptr<TaskCore> task, Wake wake)
{
    bool scheduleLazy = false;
    bool wakeNow = false;
    {
        std::lock_guard lock(m_mutex);
        if (!m_receiver)
            return; // its thread or application is gone: nobody will ever take it
        m_pending.push_back(std::move(task));
        if (wake == Wake::Urgent)
            wakeNow = claimWakeLocked();
        else if (!m_wakePosted && !m_lazyScheduled)
            scheduleLazy = m_lazyScheduled = true;
    }
    if (wakeNow)
        post();
    if (scheduleLazy)
        LazyWaker::instance().schedule(weak_from_this());
}

void DeliveryQueue::wakeNow()
{
    bool wake = false;
    {
        std::lock_guard lock(m_mutex);
        wake = claimWakeLocked();
    }
    if (wake)
        post();
}

void DeliveryQueue::wakeIfPending()
{
    bool wake = false;
    {
        std::lock_guard lock(m_mutex);
        m_lazyScheduled = false;
        wake = claimWakeLocked();
    }
    if (wake)
        post();
}

void DeliveryQueue::takeInto(std::vector<std::shared_ptr<TaskCore>> &batch)
{
    std::lock_guard lock(m_mutex);
    m_wakePosted = false;
    batch.swap(m_pending);
}

QObject *DeliveryQueue::detachReceiver()
{
    std::vector<std::shared_ptr<TaskCore>> dropped;
    std::scoped_lock lock(m_mutex, m_postMutex);
    dropped.swap(m_pending); // destroyed after the unlock (declared first)
    return std::exchange(m_receiver, nullptr);
}

void DeliveryQueue::setReceiver(QObject *receiver)
{
    std::scoped_lock lock(m_mutex, m_postMutex);
    m_receiver = receiver;
}

int Dispatcher::wakeEventType()
{
    static const int type = QEvent::registerEventType();
    return type;
}

Dispatcher::Dispatcher(std::shared_ptr<DeliveryQueue> queue) : m_queue(std::move(queue))
{
    m_constructed.store(true, std::memory_order_release);
}

Dispatcher::~Dispatcher()
{
    acquireConstruction();
    m_queue->detachReceiver();
    if (t_dispatcher == this)
        t_dispatcher = nullptr;
}

void Dispatcher::delay(std::shared_ptr<TaskCore> task)
{
    m_delayed.push_back(std::move(task));
    if (!m_timer.isActive())
        m_timer.start(int(coalescingInterval.count()), Qt::PreciseTimer, this);
}

bool Dispatcher::event(QEvent *e)
{
    acquireConstruction();
    m_queue->acquirePosted(); // before the first read of an event post() may have made
    if (e->type() == wakeEventType()) {
        t_dispatcher = this;
        if (m_delivering) {
            // A callback runs a nested event loop (a modal dialog): m_batch is being walked
            // by the outer delivery, so this one takes its own.
            std::vector<std::shared_ptr<TaskCore>> nested;
            m_queue->takeInto(nested);
            deliverAll(nested, false);
            return true;
        }
        m_delivering = true;
        m_queue->takeInto(m_batch);
        const size_t size = m_batch.size();
        deliverAll(m_batch, false);
        m_delivering = false;
        // Keep the buffer (a freed large one comes back as fresh, faulting pages) unless the
        // burst that grew it is over.
        if (m_batch.capacity() > 65536 && size < m_batch.capacity() / 8)
            std::vector<std::shared_ptr<TaskCore>>().swap(m_batch);
        return true;
    }
    return QObject::event(e);
}

void Dispatcher::timerEvent(QTimerEvent *e)
{
    acquireConstruction();
    if (e->timerId() != m_timer.timerId())
        return QObject::timerEvent(e);
    m_timer.stop();
    t_dispatcher = this;
    auto delayed = std::exchange(m_delayed, {});
    deliverAll(delayed, true);
}

void Dispatcher::deliverAll(std::vector<std::shared_ptr<TaskCore>> &tasks, bool fromDelayList)
{
    for (const auto &task : tasks)
        TaskCoreAccess::deliver(*task, fromDelayList);
    tasks.clear();
}

Dispatcher *currentDispatcher()
{
    return t_dispatcher;
}

// The application's thread never finishes: its dispatcher goes when the application does,
// before Qt frees that thread's posted events, so that no wake-up is posted into a queue
// being torn down (the LazyWaker's thread outlives the application) and a wake-up posted but
// never processed cannot stall a later application. A post routine, on the application's
// thread; registered by a startup function each time an application is made, so it is never
// registered from another thread or too late.
static void releaseApplicationThreadDispatcher()
{
    std::shared_ptr<DeliveryQueue> queue;
    {
        std::lock_guard lock(dispatcherMapMutex());
        queue = dispatcherMap().take(QThread::currentThread());
        s_dispatcherGeneration.fetch_add(1, std::memory_order_acq_rel);
    }
    if (queue)
        delete queue->detachReceiver(); // the Dispatcher, which lives on this thread
}

static void registerApplicationThreadRelease()
{
    qAddPostRoutine(releaseApplicationThreadDispatcher);
}
Q_COREAPP_STARTUP_FUNCTION(registerApplicationThreadRelease)

std::shared_ptr<DeliveryQueue> deliveryQueueFor(QThread *thread)
{
    auto &cache = t_queueCache;
    const quint64 generation = s_dispatcherGeneration.load(std::memory_order_acquire);
    if (cache.thread == thread && cache.generation == generation)
        return cache.queue;
    std::lock_guard lock(dispatcherMapMutex());
    auto &map = dispatcherMap();
    if (auto it = map.find(thread); it != map.end()) {
        cache = { thread, generation, *it };
        return *it;
    }

    auto queue = std::make_shared<DeliveryQueue>();
    auto *dispatcher = new Dispatcher(queue);
    if (dispatcher->thread() != thread)
        dispatcher->moveToThread(thread);
    queue->setReceiver(dispatcher);
    map.insert(thread, queue);
    // A finished thread's dispatcher goes away; later deliveries to it are dropped.
    QObject::connect(
        thread, &QThread::finished, dispatcher,
        [thread, dispatcher] {
            {
                std::lock_guard lock(dispatcherMapMutex());
                dispatcherMap().remove(thread);
                s_dispatcherGeneration.fetch_add(1, std::memory_order_acq_rel);
            }
            dispatcher->deleteLater();
        },
        Qt::DirectConnection);
    return queue;
}

namespace {

std::mutex &guardMapMutex()
{
    static std::mutex m;
    return m;
}

QHash<QObject *, std::shared_ptr<ContextTasks>> &guardMap()
{
    static QHash<QObject *, std::shared_ptr<ContextTasks>> map;
    return map;
}

class ContextGuard : public QObject
{
public:
    ContextGuard(QObject *context, std::shared_ptr<ContextTasks> tasks)
        : QObject(context), m_context(context), m_tasks(std::move(tasks))
    { }
    ~ContextGuard() override
    {
        {
            std::lock_guard lock(guardMapMutex());
            guardMap().remove(m_context);
            s_guardGeneration.fetch_add(1, std::memory_order_acq_rel);
        }
        m_tasks->cancelAll();
    }

private:
    QObject *m_context;
    std::shared_ptr<ContextTasks> m_tasks;
};

} // namespace

void ContextTasks::add(TaskCore &task)
{
    {
        std::lock_guard lock(m_mutex);
        if (!m_dead) {
            if (!TaskCoreAccess::contextHook(task).isLinked() && !isFinalState(task.state()))
                m_tasks.pushBack(&TaskCoreAccess::contextHook(task));
            return;
        }
    }
    task.requestCancel(); // the context died between submission and registration
}

void ContextTasks::remove(TaskCore &task)
{
    std::lock_guard lock(m_mutex);
    m_tasks.remove(&TaskCoreAccess::contextHook(task));
}

void ContextTasks::cancelAll()
{
    std::vector<std::shared_ptr<TaskCore>> tasks;
    {
        std::lock_guard lock(m_mutex);
        m_dead = true;
        m_tasks.forEach([&](TaskCore *task) {
            if (auto alive = task->weak_from_this().lock()) // null while being destroyed
                tasks.push_back(std::move(alive));
        });
        m_tasks.clear();
    }
    for (auto &task : tasks)
        task->requestCancel();
}

std::shared_ptr<ContextTasks> contextTasksFor(QObject *context)
{
    Q_ASSERT(context->thread() == QThread::currentThread());
    auto &cache = t_guardCache;
    const quint64 generation = s_guardGeneration.load(std::memory_order_acquire);
    if (cache.context == context && cache.generation == generation)
        return cache.tasks;
    std::lock_guard lock(guardMapMutex());
    auto &map = guardMap();
    std::shared_ptr<ContextTasks> tasks;
    if (auto it = map.find(context); it != map.end()) {
        tasks = *it;
    } else {
        tasks = std::make_shared<ContextTasks>();
        auto *guard = new ContextGuard(context, tasks);
        guard->setObjectName(QStringLiteral("offload-context-guard"));
        map.insert(context, tasks);
    }
    cache = { context, generation, tasks };
    return tasks;
}

} // namespace offload::detail
