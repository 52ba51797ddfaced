#include "childprocess_p.h"
#include "launch_p.h"
#include "slurmprocess_p.h"
#include "sshprocess_p.h"
#include "supervisor_p.h"

namespace offload::detail {

std::unique_ptr<Process> startProcess(
    const Launcher &launcher, SpawnRequest request, Process::Handlers handlers, Error *error)
{
    switch (launcher.kind()) {
    case Launcher::Kind::Local:
        return ChildProcess::start(std::move(request), std::move(handlers), error);
    case Launcher::Kind::Ssh:
        return SshProcess::start(
            launcher.sshTarget(), std::move(request), std::move(handlers), error);
    case Launcher::Kind::Slurm:
        return SlurmProcess::start(
            launcher.slurmTarget(), std::move(request), std::move(handlers), error);
    }
    return nullptr;
}

void StopSequence::start(StopPolicy policy)
{
    cancel();
    ++m_generation;
    m_policy = std::move(policy);
    m_running = true;
    run(0);
}

void StopSequence::cancel()
{
    if (m_timer)
        Supervisor::instance().cancelTimer(m_timer);
    m_timer = 0;
    m_running = false;
}

void StopSequence::run(size_t index)
{
    if (index >= m_policy.size()) {
        m_running = false;
        return;
    }
    const StopStep &step = m_policy[index];
    const auto then = step.then;
    const quint64 generation = m_generation;
    const std::weak_ptr<int> alive = m_alive;
    switch (step.action) {
    case StopStep::Call:
        if (step.call)
            step.call();
        break;
    case StopStep::Signal:
        m_actions.signal(step.signal);
        break;
    case StopStep::Kill:
        m_actions.kill();
        break;
    }
    if (alive.expired() || !m_running || generation != m_generation)
        return; // the action ended the process (and this sequence), cancelled or replaced it
    if (index + 1 < m_policy.size())
        m_timer = Supervisor::instance().addTimer(then, [this, alive, index] {
            if (alive.expired())
                return;
            m_timer = 0;
            run(index + 1);
        });
    else
        m_running = false;
}

} // namespace offload::detail
