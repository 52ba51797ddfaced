#include <offload/core/taskpromise.h>

namespace offload {

TaskPromiseBase &TaskPromiseBase::operator=(TaskPromiseBase &&other) noexcept
{
    if (this != &other) {
        if (m_core && !isFinalState(m_core->state()))
            m_core->finishCancelled(); // the task this promise produced is given up
        m_core = std::move(other.m_core);
    }
    return *this;
}

TaskPromiseBase::~TaskPromiseBase()
{
    if (m_core && !isFinalState(m_core->state())) // lock-free: most promises end their task
        m_core->finishCancelled();
}

void TaskPromiseBase::setFraction(double fraction) const
{
    m_core->updateProgress([&](Progress &p) { p.setFraction(fraction); });
}

void TaskControl::setFraction(double fraction)
{
    m_core->updateProgress([&](Progress &p) { p.setFraction(fraction); });
}

void TaskControl::throwIfCancellationRequested() const
{
    if (m_core->isCancellationRequested())
        throw CancelledError();
}

} // namespace offload
