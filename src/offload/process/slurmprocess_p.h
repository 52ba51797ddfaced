// Private: a program run as a Slurm job, as a Process: an srun step whose streams are live
// (worker pools run so), or an sbatch job whose output is read from its files. Either runs
// Offload's wrapper (sshremote_p.h) on the node, so output, exit status, a missing program
// and a return-parameter file come back as over ssh. Its state while it waits or runs comes
// from the application's one squeue poller; cancel goes through scancel (Slurm's cgroup
// takes every process of the job); how it ended, when not by itself, from slurmstepd's
// notice or scontrol. Supervisor thread only.
#pragma once

#include "childprocess_p.h"
#include "slurm_p.h"
#include "sshremote_p.h"
#include "wrapperstreams_p.h"

namespace offload::detail {

class SlurmProcess final : public Process
{
public:
    static std::unique_ptr<Process> start(
        const SlurmTarget &target, SpawnRequest request, Handlers handlers, Error *error);
    ~SlurmProcess() override;

    ProcessInfo sample() const override;
    int stdinFd() const override { return m_stdinWrite; }
    void closeStdin() override;
    void stop(StopPolicy policy) override;
    bool isStopping() const override { return m_stopping; }
    void setStdoutPaused(bool paused) override;
    void setStderrPaused(bool paused) override;
    void drainOutput() override;

private:
    SlurmProcess() = default;
    QStringList wrapperArgv() const;
    bool startStep(const SpawnRequest &request, Error *error);
    void submitBatch();
    void onSubmitted(int code, const QByteArray &out, const QByteArray &err);
    void onQueue(const slurm::JobInfo *job);
    void readFiles();
    void afterOutput();
    void onStepExit(const ExitStatus &local);
    void endStepHere();
    void finish(int clientCode);
    void conclude(ExitStatus status, const QByteArray &finalState);
    void report(ExitStatus status);
    void signalJob(int signal);
    void killJob();
    void finishLater(ExitStatus status);
    Error failure(ErrorKind kind, RemoteFailure why, const QString &message) const;

    Supervisor &m_sup = Supervisor::instance();
    std::shared_ptr<int> m_alive = std::make_shared<int>(0);
    SlurmTarget m_target;
    ssh::RemoteRun m_run;
    QByteArray m_jobName;
    QByteArray m_jobId;
    QString m_node, m_pendingReason;
    Handlers m_handlers;
    std::unique_ptr<WrapperStreams> m_streams;
    std::unique_ptr<ChildProcess> m_step; // srun
    int m_stdinRead = -1, m_stdinWrite = -1;
    // sbatch: the job's output files, read from these offsets
    QString m_outFile, m_errFile;
    qint64 m_outOffset = 0, m_errOffset = 0;
    uint64_t m_tailTimer = 0;
    bool m_outPaused = false, m_errPaused = false;
    bool m_gone = false; // the job has left the queue (or ended)
    uint64_t m_queueWatch = 0;
    bool m_located = false, m_stopping = false, m_cancelSent = false, m_killSent = false;
    bool m_finished = false, m_reported = false;
    int m_lastSignal = 0;
    std::unique_ptr<StopSequence> m_stopSequence;
    uint64_t m_localKillTimer = 0, m_finishTimer = 0, m_lingerTimer = 0;
};

} // namespace offload::detail
