#include <offload/core/taskregistry.h>

#include "taskcore_p.h"

#include <atomic>
#include <deque>
#include <map>
#include <mutex>

namespace offload {

using detail::Access;
using detail::TaskCore;
using detail::TaskCoreAccess;

struct TaskRegistry::Private
{
    struct Inbox
    {
        std::vector<std::weak_ptr<TaskCore>> added;
        std::deque<std::weak_ptr<TaskCore>> changed;
    };
    mutable std::mutex mutex;
    detail::IntrusiveList live; // every task between construction and destruction
    // Shared by listeners, deduplicated per task; moved to every inbox as far as a listener
    // takes, so that a bounded take does bounded work under the lock.
    std::deque<std::weak_ptr<TaskCore>> dirty;
    std::map<int, Inbox> listeners;
    int nextListener = 1;
    std::atomic<int> listenerCount { 0 };
};

TaskRegistry::TaskRegistry() : d(new Private) { }

TaskRegistry &TaskRegistry::instance()
{
    static TaskRegistry *registry = new TaskRegistry; // outlives every task, even static ones
    return *registry;
}

std::vector<TaskHandleBase> TaskRegistry::liveTasks() const
{
    std::vector<TaskHandleBase> out;
    std::lock_guard lock(d->mutex);
    out.reserve(size_t(d->live.size()));
    d->live.forEach([&](TaskCore *task) {
        if (auto alive = task->weak_from_this().lock()) // null while being destroyed
            out.push_back(Access::handle(std::move(alive)));
    });
    return out;
}

int TaskRegistry::addListener()
{
    std::lock_guard lock(d->mutex);
    const int id = d->nextListener++;
    d->listeners.emplace(id, Private::Inbox {});
    d->listenerCount.store(int(d->listeners.size()));
    return id;
}

void TaskRegistry::removeListener(int id)
{
    std::lock_guard lock(d->mutex);
    d->listeners.erase(id);
    d->listenerCount.store(int(d->listeners.size()));
}

TaskRegistry::Changes TaskRegistry::takeChanges(int listener, size_t maxChanged)
{
    std::vector<std::weak_ptr<TaskCore>> added;
    std::vector<std::weak_ptr<TaskCore>> changed;
    std::vector<std::shared_ptr<TaskCore>> keep; // a last reference dies outside the lock
    Changes changes;
    {
        std::lock_guard lock(d->mutex);
        auto it = d->listeners.find(listener);
        if (it == d->listeners.end())
            return {};
        Private::Inbox &inbox = it->second;
        // Drain the shared list only as far as this listener's inbox needs to be refilled.
        while (inbox.changed.size() < maxChanged && !d->dirty.empty()) {
            std::weak_ptr<TaskCore> weak = std::move(d->dirty.front());
            d->dirty.pop_front();
            auto task = weak.lock();
            if (!task)
                continue;
            TaskCoreAccess::takeMonitorDirty(*task);
            for (auto &[id, box] : d->listeners)
                box.changed.push_back(weak);
            keep.push_back(std::move(task));
        }
        added = std::exchange(inbox.added, {});
        const size_t n = std::min(maxChanged, inbox.changed.size());
        changed.assign(std::make_move_iterator(inbox.changed.begin()),
            std::make_move_iterator(inbox.changed.begin() + ptrdiff_t(n)));
        inbox.changed.erase(inbox.changed.begin(), inbox.changed.begin() + ptrdiff_t(n));
        changes.more = !inbox.changed.empty() || !d->dirty.empty();
    }
    keep.clear();
    for (auto &weak : added) {
        if (auto task = weak.lock())
            changes.added.push_back(Access::handle(std::move(task)));
    }
    changes.changed.reserve(changed.size());
    for (auto &weak : changed) {
        if (auto task = weak.lock())
            changes.changed.push_back(Access::handle(std::move(task)));
    }
    return changes;
}

void TaskRegistry::add(TaskCore &task)
{
    std::lock_guard lock(d->mutex);
    d->live.pushBack(&TaskCoreAccess::registryHook(task));
    for (auto &[id, box] : d->listeners)
        box.added.push_back(task.weak_from_this());
}

void TaskRegistry::remove(TaskCore &task)
{
    std::lock_guard lock(d->mutex);
    d->live.remove(&TaskCoreAccess::registryHook(task));
}

void TaskRegistry::markDirty(TaskCore &task)
{
    if (d->listenerCount.load(std::memory_order_relaxed) == 0)
        return;
    if (!TaskCoreAccess::setMonitorDirty(task))
        return; // already listed since the last drain
    std::lock_guard lock(d->mutex);
    d->dirty.push_back(task.weak_from_this());
}

} // namespace offload
