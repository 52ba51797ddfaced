// TaskRegistry: every live Offload task, and batched change lists for monitors.
#pragma once

#include <offload/core/taskhandle.h>

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
        std::vector<TaskHandleBase> added;   // created since the last call (live ones only)
        std::vector<TaskHandleBase> changed; // state, progress or name changed (each once)
    };
    int addListener();          // returns an id; the listener starts with no pending changes
    void removeListener(int id);
    Changes takeChanges(int listener);

    // Called by tasks.
    void add(detail::TaskCore &task);
    void remove(detail::TaskCore &task);
    void markDirty(detail::TaskCore &task);

private:
    TaskRegistry();
    struct Private;
    Private *d; // intentionally never freed: tasks may outlive static destruction order
};

} // namespace offload
