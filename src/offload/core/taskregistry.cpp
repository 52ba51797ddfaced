#include <offload/core/taskregistry.h>

#include <atomic>
#include <map>
#include <mutex>
#include <unordered_map>

namespace offload {

using detail::TaskCore;

struct TaskRegistry::Private
{
    struct Inbox
    {
        std::vector<std::weak_ptr<TaskCore>> added;
        std::vector<std::weak_ptr<TaskCore>> changed;
    };
    mutable std::mutex mutex;
    std::unordered_map<quint64, std::weak_ptr<TaskCore>> live;
    std::vector<std::weak_ptr<TaskCore>> dirty; // shared by listeners, deduplicated per task
    std::map<int, Inbox> listeners;
    int nextListener = 1;
    std::atomic<int> listenerCount{0};
};

TaskRegistry::TaskRegistry()
    : d(new Private)
{
}

TaskRegistry &TaskRegistry::instance()
{
    static TaskRegistry *registry = new TaskRegistry; // outlives every task, even static ones
    return *registry;
}

std::vector<TaskHandleBase> TaskRegistry::liveTasks() const
{
    std::vector<TaskHandleBase> out;
    std::lock_guard lock(d->mutex);
    out.reserve(d->live.size());
    for (auto &[id, weak] : d->live) {
        if (auto task = weak.lock())
            out.emplace_back(std::move(task));
    }
    return out;
}

int TaskRegistry::addListener()
{
    std::lock_guard lock(d->mutex);
    const int id = d->nextListener++;
    d->listeners.emplace(id, Private::Inbox{});
    d->listenerCount.store(int(d->listeners.size()));
    return id;
}

void TaskRegistry::removeListener(int id)
{
    std::lock_guard lock(d->mutex);
    d->listeners.erase(id);
    d->listenerCount.store(int(d->listeners.size()));
}

TaskRegistry::Changes TaskRegistry::takeChanges(int listener)
{
    Private::Inbox inbox;
    std::vector<std::shared_ptr<TaskCore>> keep; // released outside the lock
    {
        std::lock_guard lock(d->mutex);
        for (auto &weak : d->dirty) {
            auto task = weak.lock();
            if (!task)
                continue;
            task->takeMonitorDirty();
            for (auto &[id, box] : d->listeners)
                box.changed.push_back(weak);
            keep.push_back(std::move(task));
        }
        d->dirty.clear();
        auto it = d->listeners.find(listener);
        if (it == d->listeners.end())
            return {};
        inbox = std::exchange(it->second, {});
    }
    Changes changes;
    for (auto &weak : inbox.added) {
        if (auto task = weak.lock())
            changes.added.emplace_back(std::move(task));
    }
    for (auto &weak : inbox.changed) {
        if (auto task = weak.lock())
            changes.changed.emplace_back(std::move(task));
    }
    return changes;
}

void TaskRegistry::add(const std::shared_ptr<TaskCore> &task)
{
    std::lock_guard lock(d->mutex);
    d->live.emplace(task->id(), task);
    for (auto &[id, box] : d->listeners)
        box.added.push_back(task);
}

void TaskRegistry::remove(quint64 id)
{
    std::lock_guard lock(d->mutex);
    d->live.erase(id);
}

void TaskRegistry::markDirty(TaskCore &task)
{
    if (d->listenerCount.load(std::memory_order_relaxed) == 0)
        return;
    if (!task.setMonitorDirty())
        return; // already listed since the last drain
    std::lock_guard lock(d->mutex);
    d->dirty.push_back(task.weak_from_this());
}

} // namespace offload
