// TaskState: the one state machine every Offload task follows, whatever runs it.
#pragma once

#include <offload/core/export.h>

#include <QMetaType>
#include <QString>

namespace offload {

// Queued → Starting → Running → Finished | Failed | Cancelled.
// States only move forward; a queued task that is cancelled goes straight to Cancelled.
enum class TaskState : quint8 {
    Queued, // accepted, waiting for a thread, worker or process slot
    Starting, // resources being acquired (a thread picked it, a process is spawning)
    Running, // the work itself runs
    Finished, // ended with a result
    Failed, // ended with an Error
    Cancelled, // ended because cancellation was requested; never an error
};

constexpr bool isFinalState(TaskState s) noexcept
{
    return s >= TaskState::Finished;
}

OFFLOAD_CORE_EXPORT QString stateName(TaskState state);

} // namespace offload

Q_DECLARE_METATYPE(offload::TaskState)
