// TaskRegistry: every live Offload task, and batched change lists for monitors.
#pragma once

#include <offload/core/taskhandle.h>

#include <cstddef>
#include <limits>
#include <vector>

namespace offload {

// Process-wide; every task registers itself when created and leaves when destroyed.
// Thread-safety: all members may be called from any thread.
// Listeners (such as TaskModel) poll takeChanges() at their own pace, so producers never
// call into a listener and a million progress reports cost a listener one entry.
class OFFLOAD_CORE_EXPORT TaskRegistry
{
public:
    static TaskRegistry &instance();

    std::vector<TaskHandleBase> liveTasks() const;

    struct Changes
    {
        std::vector<TaskHandleBase> added; // created since the last call (live ones only)
        std::vector<TaskHandleBase> changed; // state, progress or name changed (each once)
        bool more = false; // changed tasks beyond maxChanged wait for the next call
    };
    int addListener(); // returns an id; the listener starts with no pending changes
    void removeListener(int id);
    // At most maxChanged changed tasks, oldest first, so that a listener on the GUI thread
    // can take a burst in pieces; every added one.
    Changes takeChanges(int listener, size_t maxChanged = std::numeric_limits<size_t>::max());

private:
    friend class detail::TaskCore; // a task registers itself, leaves, and says it changed
    void add(detail::TaskCore &task);
    void remove(detail::TaskCore &task);
    void markDirty(detail::TaskCore &task);
    TaskRegistry();
    struct Private;
    Private *d; // intentionally never freed: tasks may outlive static destruction order
};

} // namespace offload
