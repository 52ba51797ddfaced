#include <offload/core/taskhandle.h>

namespace offload {

std::chrono::milliseconds TaskHandleBase::elapsed() const
{
    return m_core->times().elapsed();
}

void TaskHandleBase::checkFinished() const
{
    switch (state()) { // counts as observing the end
    case TaskState::Finished:
        return;
    case TaskState::Failed:
        throw Exception(m_core->error());
    case TaskState::Cancelled:
        throw CancelledError();
    default:
        throw std::logic_error("offload: result() called before the task ended");
    }
}

} // namespace offload
