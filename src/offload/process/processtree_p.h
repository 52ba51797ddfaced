// Private: finding and killing every descendant of a child process, however it detached.
//
// Process groups alone do not reach a grandchild that calls setsid() or double-forks, and the
// kernel's death signal reaches direct children only. So, where the system allows it:
// - Each child runs in its own cgroup (v2) below this process's cgroup; cgroup.kill ends every
//   process in it, whatever its session or parent. Where no writable cgroup v2 exists, the
//   child's process group is used instead (setsid escapers are then out of reach).
// - One guard process per application (a /bin/sh reading a pipe from us) outlives us: when
//   the pipe closes because the application died, by SIGKILL included, it kills what is left
//   (the whole cgroup subtree, or the process groups still registered) and exits.
// Supervisor thread only.
#pragma once

#include <QByteArray>
#include <QString>

#include <memory>

#include <sys/types.h>

namespace offload::detail {

class ProcessTree
{
public:
    enum class Mechanism { Cgroup, ProcessGroup };

    // A fresh (or reused, empty) cgroup when available, else process-group mode.
    static std::unique_ptr<ProcessTree> create();
    ~ProcessTree(); // the cgroup goes back to the free list once empty
    ProcessTree(const ProcessTree &) = delete;
    ProcessTree &operator=(const ProcessTree &) = delete;

    Mechanism mechanism() const
    {
        return m_cgroup.isEmpty() ? Mechanism::ProcessGroup : Mechanism::Cgroup;
    }
    int cgroupProcsFd() const { return m_procsFd; } // for SpawnRequest; -1 in group mode
    void started(pid_t leader); // registers the group with the guard
    // Sends signal to every process of the tree (cgroup: each member; group mode: the group).
    void signalAll(int signal);
    // SIGKILL to every process of the tree at once (cgroup.kill where available).
    void killAll();
    // The leader has been reaped: in group mode unregistered from the guard.
    void reaped();

    // After a child could not join its cgroup (delegation rules): process groups from now on.
    static void disableCgroups();
    // A Slurm job (by its unique name) that the guard cancels if the application dies.
    static void guardJob(const QByteArray &name, bool guarded);

private:
    ProcessTree() = default;
    QByteArray m_cgroup; // directory, empty in group mode
    int m_procsFd = -1;
    pid_t m_leader = -1;
};

} // namespace offload::detail
