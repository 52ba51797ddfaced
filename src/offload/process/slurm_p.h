// Private: Slurm's client commands as Offload uses them: short commands run to their end
// (bounded), the one poller of the application's jobs, and reading what Slurm says about how
// a job ended. Supervisor thread only, except the pure functions (any thread).
#pragma once

#include <offload/core/error.h>

#include <QByteArray>
#include <QString>
#include <QStringList>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>

namespace offload::detail::slurm {

// Runs a short command (squeue, scontrol, scancel, sbatch) to its end and hands fn its exit
// code (-1 if it could not start or was killed at the timeout) and output. The command is
// kept until it ends, whoever asked for it.
using CommandHandler = std::function<void(int code, const QByteArray &out, const QByteArray &err)>;
void runCommand(const QStringList &argv, CommandHandler fn,
    std::chrono::milliseconds timeout = std::chrono::seconds(30));

struct JobInfo
{
    QByteArray id;
    QByteArray name;
    QByteArray state; // PENDING, RUNNING, COMPLETED, CANCELLED, TIMEOUT, NODE_FAIL, ...
    QString reason; // why it is pending (Resources, Priority, ...)
    QString node;
    QString elapsed;
};
// Lines of squeue -h -o '%i|%j|%T|%r|%N|%M'.
std::vector<JobInfo> parseQueue(const QByteArray &text);

// What a running job uses, as sstat reports it: the largest resident set any of its steps
// reached, and the CPU time of its steps together (Slurm's own "extern" step left out).
// -1: unknown.
struct Usage
{
    qint64 rssBytes = -1;
    double cpuSeconds = -1;
};
// Lines of sstat -a -n -P -o JobID,MaxRSS,AveCPU ("12.batch|95308K|00:01:02"), by job id.
std::map<QByteArray, Usage> parseUsage(const QByteArray &text);

// The failure Slurm's own notice in a job's stderr names ("*** JOB 12 ON n1 CANCELLED AT ...
// DUE TO TIME LIMIT ***", an oom-kill report): None if there is none.
RemoteFailure failureFromNotice(const QByteArray &stderrText, bool *cancelled = nullptr);
// The failure a final job state names (TIMEOUT, NODE_FAIL, PREEMPTED, OUT_OF_MEMORY,
// CANCELLED): None for any other.
RemoteFailure failureFromState(const QByteArray &state);
// JobState=... of scontrol show job.
QByteArray stateFromScontrol(const QByteArray &text);
// The error kind a failure is reported with.
ErrorKind kindOf(RemoteFailure failure);

// The one poller of the application's jobs: one squeue per interval for all of them (the
// shortest interval any watcher asked for; doubled while nothing changes, up to four times
// it; a new watch brings the next query within 2 s). Each listener hears of its job when
// it changes, and gets nullptr when the job is not (or no longer) listed.
class Queue
{
public:
    using Listener = std::function<void(const JobInfo *job)>;
    static Queue &instance();
    uint64_t watch(const QByteArray &jobName, std::chrono::seconds interval, Listener listener);
    void unwatch(uint64_t token);
    // The job's usage from the last sstat, which runs after each squeue that lists running
    // jobs of the application (one sstat for all of them); nothing where job accounting
    // gathers nothing (sstat then fails, and is asked again only every tenth time).
    std::optional<Usage> usage(const QByteArray &jobId) const;

private:
    Queue() = default;
    void schedule(std::chrono::milliseconds within);
    void poll();
    void onResult(int code, const QByteArray &out);
    void queryUsage(const QStringList &jobIds);

    struct Watch
    {
        QByteArray name;
        std::chrono::seconds interval;
        std::shared_ptr<Listener> listener;
        std::optional<JobInfo> last;
        bool seen = false;
        std::chrono::steady_clock::time_point created;
    };
    std::map<uint64_t, Watch> m_watches;
    uint64_t m_next = 1, m_timer = 0;
    std::chrono::steady_clock::time_point m_due;
    std::chrono::milliseconds m_interval { 0 };
    bool m_querying = false;
    std::map<QByteArray, Usage> m_usage; // of the jobs running at the last query
    bool m_usageQuerying = false;
    int m_usageSkips = 0; // queries left to pass before sstat is asked again
};

} // namespace offload::detail::slurm
