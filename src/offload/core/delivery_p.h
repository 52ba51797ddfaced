// Private: per-thread delivery of task updates, and the guard that cancels tasks whose
// context object is destroyed.
//
// Why our own queue: Debian's Qt is not built with TSan, so data that crosses threads only
// inside a Qt event is invisible to it. Tasks are handed over through DeliveryQueue's
// std::mutex; the posted QEvent carries no data and is only the wake-up.
#pragma once

#include <QBasicTimer>
#include <QObject>

#include "intrusivelist_p.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

QT_BEGIN_NAMESPACE
class QThread;
QT_END_NAMESPACE

namespace offload::detail {

class TaskCore;

// Shared by producers (any thread) and one Dispatcher (its thread).
//
// Why two kinds of wake-up: waking a sleeping GUI thread costs tens of microseconds on these
// machines, so only a final state that a callback waits for (and a full output buffer, and
// a context guard to register) wakes it at once (Urgent). Everything else (Starting,
// Running, progress) is Lazy: queued without a wake-up, and the process-wide LazyWaker posts
// one within the coalescing interval if nothing urgent came first. A short task thus costs
// the context thread one wake-up, and a long one still shows Running within ~16 ms.
class DeliveryQueue : public std::enable_shared_from_this<DeliveryQueue>
{
public:
    enum class Wake { Lazy, Urgent };
    void enqueue(std::shared_ptr<TaskCore> task, Wake wake);
    void wakeNow(); // post a wake-up if anything is pending (urgent upgrade)
    void wakeIfPending(); // the LazyWaker's deadline passed
    // Swaps the pending tasks into batch (which must be empty); buffers keep their capacity
    // so a burst of deliveries does not reallocate on every wake-up.
    void takeInto(std::vector<std::shared_ptr<TaskCore>> &batch);
    QObject *detachReceiver(); // returns the receiver it had; later wake-ups are dropped
    void setReceiver(QObject *receiver);
    void acquirePosted() const; // on the receiver's thread, before it reads a posted event

private:
    // Decides under m_mutex whether a wake-up is owed; the post itself happens after the
    // unlock (post()), so the woken dispatcher never blocks on a mutex its waker still holds.
    bool claimWakeLocked();
    void post();
    std::mutex m_mutex;
    std::mutex m_postMutex; // orders post() against detachReceiver()
    std::vector<std::shared_ptr<TaskCore>> m_pending;
    QObject *m_receiver = nullptr; // written under both mutexes, read under either
    bool m_wakePosted = false;
    bool m_lazyScheduled = false;
    std::atomic<unsigned> m_posted { 0 }; // wake-ups posted (see post())
};

// Lives in one thread; delivers every queued task there. Progress-only updates arriving
// faster than the coalescing interval wait in m_delayed for one shared timer.
class Dispatcher : public QObject
{
public:
    static constexpr std::chrono::milliseconds coalescingInterval { 16 }; // ~60 updates/s

    explicit Dispatcher(std::shared_ptr<DeliveryQueue> queue);
    ~Dispatcher() override;
    void delay(std::shared_ptr<TaskCore> task); // deliver again after the interval
    static int wakeEventType();

protected:
    bool event(QEvent *e) override;
    void timerEvent(QTimerEvent *e) override;

private:
    void deliverAll(std::vector<std::shared_ptr<TaskCore>> &tasks, bool fromDelayList);
    // Constructed on the submitting thread, used on its own: members are published with a
    // release store at the end of construction and acquired before each use (the Qt event
    // that carries us across is invisible to TSan and gives no C++ ordering of our own).
    void acquireConstruction() const { (void)m_constructed.load(std::memory_order_acquire); }
    std::shared_ptr<DeliveryQueue> m_queue;
    std::vector<std::shared_ptr<TaskCore>> m_batch;
    bool m_delivering = false; // walking m_batch (a callback may run a nested event loop)
    std::vector<std::shared_ptr<TaskCore>> m_delayed;
    QBasicTimer m_timer;
    std::atomic<bool> m_constructed { false };
};

// The delivery queue of a thread, creating its Dispatcher on first use.
std::shared_ptr<DeliveryQueue> deliveryQueueFor(QThread *thread);
// The dispatcher running in the calling thread, if any (for delaying).
Dispatcher *currentDispatcher();

// Tasks currently bound to one context object; cancelled when it is destroyed.
class ContextTasks
{
public:
    void add(TaskCore &task);
    void remove(TaskCore &task);
    void cancelAll();

private:
    std::mutex m_mutex;
    IntrusiveList m_tasks;
    bool m_dead = false;
};

// Child object of a context; its destruction (with the context) cancels the bound tasks.
// Must be created in the context's thread.
std::shared_ptr<ContextTasks> contextTasksFor(QObject *context);

} // namespace offload::detail
