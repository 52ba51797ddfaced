#include <offload/core/taskhandle.h>

namespace offload {

std::chrono::milliseconds TaskHandleBase::elapsed() const
{
    using namespace std::chrono;
    const auto t = m_core->times();
    const auto start = t.started == steady_clock::time_point{} ? t.created : t.started;
    const auto end = t.finished == steady_clock::time_point{} ? steady_clock::now() : t.finished;
    return duration_cast<milliseconds>(end - start);
}

void TaskHandleBase::checkFinished() const
{
    switch (m_core->state()) {
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
