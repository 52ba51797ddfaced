// Private: per-thread delivery of task updates, and the guard that cancels tasks whose
// context object is destroyed.
//
// Why our own queue: Debian's Qt is not built with TSan, so data that crosses threads only
// inside a Qt event is invisible to it. Tasks are handed over through DeliveryQueue's
// std::mutex; the posted QEvent carries no data and is only the wake-up.
#pragma once

#include <QBasicTimer>
#include <QObject>

#include <chrono>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace offload::detail {

class TaskCore;

// Shared by producers (any thread) and one Dispatcher (its thread).
class DeliveryQueue
{
public:
    void enqueue(std::shared_ptr<TaskCore> task);
    std::vector<std::shared_ptr<TaskCore>> take();
    void detachReceiver();
    void setReceiver(QObject *receiver);

private:
    std::mutex m_mutex;
    std::vector<std::shared_ptr<TaskCore>> m_pending;
    QObject *m_receiver = nullptr;
    bool m_wakePosted = false;
};

// Lives in one thread; delivers every queued task there. Progress-only updates arriving
// faster than the coalescing interval wait in m_delayed for one shared timer.
class Dispatcher : public QObject
{
public:
    static constexpr std::chrono::milliseconds coalescingInterval{16}; // ~60 updates/s

    explicit Dispatcher(std::shared_ptr<DeliveryQueue> queue);
    ~Dispatcher() override;
    void delay(std::shared_ptr<TaskCore> task);
    static int wakeEventType();

protected:
    bool event(QEvent *e) override;
    void timerEvent(QTimerEvent *e) override;

private:
    void deliverAll(std::vector<std::shared_ptr<TaskCore>> tasks);
    std::shared_ptr<DeliveryQueue> m_queue;
    std::vector<std::shared_ptr<TaskCore>> m_delayed;
    QBasicTimer m_timer;
};

// The delivery queue of a thread, creating its Dispatcher on first use.
std::shared_ptr<DeliveryQueue> deliveryQueueFor(QThread *thread);
// The dispatcher running in the calling thread, if any (for delaying).
Dispatcher *currentDispatcher();

// Tasks currently bound to one context object; cancelled when it is destroyed.
class ContextTasks
{
public:
    void add(const std::shared_ptr<TaskCore> &task);
    void remove(quint64 id);
    void cancelAll();

private:
    std::mutex m_mutex;
    std::unordered_map<quint64, std::weak_ptr<TaskCore>> m_tasks;
    bool m_dead = false;
};

// Child object of a context; its destruction (with the context) cancels the bound tasks.
// Must be created in the context's thread.
std::shared_ptr<ContextTasks> contextTasksFor(QObject *context);

} // namespace offload::detail
