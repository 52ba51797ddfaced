#include "delivery_p.h"

#include <offload/core/taskcore.h>

#include <QCoreApplication>
#include <QEvent>
#include <QHash>
#include <QThread>
#include <QTimerEvent>

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

} // namespace

void DeliveryQueue::enqueue(std::shared_ptr<TaskCore> task)
{
    std::lock_guard lock(m_mutex);
    m_pending.push_back(std::move(task));
    if (!m_wakePosted && m_receiver) {
        m_wakePosted = true;
        QCoreApplication::postEvent(m_receiver, new QEvent(QEvent::Type(Dispatcher::wakeEventType())));
    }
}

std::vector<std::shared_ptr<TaskCore>> DeliveryQueue::take()
{
    std::lock_guard lock(m_mutex);
    m_wakePosted = false;
    return std::exchange(m_pending, {});
}

void DeliveryQueue::detachReceiver()
{
    std::vector<std::shared_ptr<TaskCore>> dropped;
    {
        std::lock_guard lock(m_mutex);
        m_receiver = nullptr;
        dropped.swap(m_pending);
    }
}

void DeliveryQueue::setReceiver(QObject *receiver)
{
    std::lock_guard lock(m_mutex);
    m_receiver = receiver;
}

int Dispatcher::wakeEventType()
{
    static const int type = QEvent::registerEventType();
    return type;
}

Dispatcher::Dispatcher(std::shared_ptr<DeliveryQueue> queue)
    : m_queue(std::move(queue))
{
}

Dispatcher::~Dispatcher()
{
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
    if (e->type() == wakeEventType()) {
        t_dispatcher = this;
        deliverAll(m_queue->take());
        return true;
    }
    return QObject::event(e);
}

void Dispatcher::timerEvent(QTimerEvent *e)
{
    if (e->timerId() != m_timer.timerId())
        return QObject::timerEvent(e);
    m_timer.stop();
    t_dispatcher = this;
    deliverAll(std::exchange(m_delayed, {}));
}

void Dispatcher::deliverAll(std::vector<std::shared_ptr<TaskCore>> tasks)
{
    for (const auto &task : tasks)
        task->deliver();
}

Dispatcher *currentDispatcher()
{
    return t_dispatcher;
}

std::shared_ptr<DeliveryQueue> deliveryQueueFor(QThread *thread)
{
    std::lock_guard lock(dispatcherMapMutex());
    auto &map = dispatcherMap();
    if (auto it = map.find(thread); it != map.end())
        return *it;

    auto queue = std::make_shared<DeliveryQueue>();
    auto *dispatcher = new Dispatcher(queue);
    if (dispatcher->thread() != thread)
        dispatcher->moveToThread(thread);
    queue->setReceiver(dispatcher);
    map.insert(thread, queue);
    // A finished thread's dispatcher goes away; later deliveries to it are dropped.
    QObject::connect(thread, &QThread::finished, dispatcher, [thread, dispatcher] {
        {
            std::lock_guard lock(dispatcherMapMutex());
            dispatcherMap().remove(thread);
        }
        dispatcher->deleteLater();
    }, Qt::DirectConnection);
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
        : QObject(context)
        , m_context(context)
        , m_tasks(std::move(tasks))
    {
    }
    ~ContextGuard() override
    {
        {
            std::lock_guard lock(guardMapMutex());
            guardMap().remove(m_context);
        }
        m_tasks->cancelAll();
    }

private:
    QObject *m_context;
    std::shared_ptr<ContextTasks> m_tasks;
};

} // namespace

void ContextTasks::add(const std::shared_ptr<TaskCore> &task)
{
    {
        std::lock_guard lock(m_mutex);
        if (!m_dead) {
            m_tasks.emplace(task->id(), task);
            return;
        }
    }
    task->requestCancel(); // the context died between submission and registration
}

void ContextTasks::remove(quint64 id)
{
    std::lock_guard lock(m_mutex);
    m_tasks.erase(id);
}

void ContextTasks::cancelAll()
{
    std::unordered_map<quint64, std::weak_ptr<TaskCore>> tasks;
    {
        std::lock_guard lock(m_mutex);
        m_dead = true;
        tasks.swap(m_tasks);
    }
    for (auto &[id, weak] : tasks) {
        if (auto task = weak.lock())
            task->requestCancel();
    }
}

std::shared_ptr<ContextTasks> contextTasksFor(QObject *context)
{
    Q_ASSERT(context->thread() == QThread::currentThread());
    std::lock_guard lock(guardMapMutex());
    auto &map = guardMap();
    if (auto it = map.find(context); it != map.end())
        return *it;
    auto tasks = std::make_shared<ContextTasks>();
    new ContextGuard(context, tasks);
    map.insert(context, tasks);
    return tasks;
}

} // namespace offload::detail
