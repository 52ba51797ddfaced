// TaskControl: what running work uses to report progress and see cancellation.
#pragma once

#include <offload/core/taskcore.h>

namespace offload {

// Handed to a thread task's callable (TaskPromise::control() makes one for any task). Cheap to
// copy; copies refer to the same task.
// Thread-safety: every member may be called from any thread, as often as you like: the
// context receives coalesced updates (at most ~60/s, latest wins).
class OFFLOAD_CORE_EXPORT TaskControl
{
public:
    void setProgressRange(qint64 minimum, qint64 maximum)
    {
        m_core->setProgressRange(minimum, maximum);
    }
    void setProgress(qint64 value) { m_core->setProgressValue(value); }
    void setProgress(qint64 value, const QString &text) { m_core->setProgressValue(value, text); }
    void setProgressText(const QString &text) { m_core->setProgressText(text); }
    void setStage(const QString &name, int index, int count)
    {
        m_core->setStage({ name, index, count });
    }
    // Reports progress as a fraction in [0, 1] (sets the range to 0..Progress::fractionScale;
    // NaN counts as 0, anything else is clamped: Progress::valueFromFraction).
    void setFraction(double fraction);

    // Reads, changes and writes the progress back as one step under the task's lock, even
    // with several reporters: fn(Progress &).
    template<typename F> void updateProgress(F &&fn)
    {
        m_core->updateProgress(std::forward<F>(fn));
    }

    bool isCancellationRequested() const { return m_core->isCancellationRequested(); }
    // Throws CancelledError if cancellation was requested; the task then ends Cancelled.
    void throwIfCancellationRequested() const;

private:
    friend class TaskPromiseBase; // TaskPromise::control() makes one
    explicit TaskControl(std::shared_ptr<detail::TaskCore> core) : m_core(std::move(core)) { }
    std::shared_ptr<detail::TaskCore> m_core;
};

} // namespace offload
