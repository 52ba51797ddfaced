// Private: a program run as a Slurm job, as a Process: an srun step whose streams are live
// (worker pools run so), or an sbatch job whose output is read from its files. Either runs
// Offload's wrapper (sshremote_p.h) on the node, so output, exit status, a missing program
// and a return-parameter file come back as over ssh. Its state while it waits or runs comes
// from the application's one squeue poller; cancel goes through scancel (Slurm's cgroup
// takes every process of the job); how it ended, when not by itself, from slurmstepd's
// notice or scontrol. Supervisor thread only.
#pragma once

#include "slurm_p.h"
#include "wrappedprocess_p.h"

namespace offload::detail {

class SlurmProcess final : public WrappedProcess
{
public:
    static std::unique_ptr<Process> start(
        const SlurmTarget &target, SpawnRequest request, Handlers handlers, Error *error);
    ~SlurmProcess() override;

    ProcessInfo sample() const override;
    void stop(StopPolicy policy) override;

private:
    SlurmProcess() = default;
    bool startStep(Error *error);
    void submitBatch();
    void onSubmitted(int code, const QByteArray &out, const QByteArray &err);
    void onQueue(const slurm::JobInfo *job);
    void readFiles();
    void onLocated() override;
    void endClientHere() override;
    void onClientExit(const ExitStatus &local) override;
    void beforeReport() override;
    void finish();
    void conclude(const QByteArray &finalState);
    void offerReturnDirectory();
    void removeReturnDirectory();
    QString jobName() const; // "Slurm job 12", for messages
    void signalJob(int signal);
    void killJob();

    SlurmTarget m_target;
    QByteArray m_jobName;
    QByteArray m_jobId;
    QString m_node;
    // sbatch: the job's output files, read from these offsets
    QString m_outFile, m_errFile, m_scriptFile;
    // The private directory for the return file, in the output directory: used by the run
    // where the node shares that file system (RemoteRun::sharedReturnDirectory).
    QString m_returnDir;
    qint64 m_outOffset = 0, m_errOffset = 0;
    uint64_t m_tailTimer = 0;
    bool m_gone = false; // the job has left the queue (or ended)
    uint64_t m_queueWatch = 0;
    bool m_cancelSent = false;
    bool m_submissionLost = false; // sbatch timed out: the job may exist after all
};

} // namespace offload::detail
