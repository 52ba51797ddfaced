// TaskTimes and TaskSnapshot: a task's whole state at one instant, as a monitor shows it.
#pragma once

#include <offload/core/output.h>
#include <offload/core/progress.h>
#include <offload/core/taskstate.h>

#include <QString>

#include <chrono>

namespace offload {

// When a task was created, started and ended, on the steady clock. A plain value type.
struct TaskTimes
{
    std::chrono::steady_clock::time_point created;
    std::chrono::steady_clock::time_point started; // Running entered; epoch if never
    std::chrono::steady_clock::time_point finished; // final state entered; epoch if not yet
    // Since Running was entered (or creation, if never), until the end or now.
    OFFLOAD_CORE_EXPORT std::chrono::milliseconds elapsed() const;
};

// What TaskHandleBase::snapshot() reads under one lock (parentId, atomic, just before), so
// that the fields agree with each other (a monitor reads thousands a tick). A value type.
struct TaskSnapshot
{
    TaskState state = TaskState::Queued;
    Progress progress;
    ProcessInfo process;
    QString name;
    TaskTimes times;
    quint64 parentId = 0;
    QString errorSummary; // Failed only: Error::summary()
};

} // namespace offload
