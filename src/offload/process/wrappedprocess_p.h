// Private: what a program run through Offload's wrapper script (sshremote_p.h) has in common
// wherever it runs: over ssh or as a Slurm job. It owns the run, the streams read through
// WrapperStreams, the local client that carries them (ssh, srun; none for sbatch), the
// client's stdin, and how the run is reported once over. The kinds add how the client is
// started and stopped and how the end is judged. Supervisor thread only.
#pragma once

#include "childprocess_p.h"
#include "sshremote_p.h"
#include "wrapperstreams_p.h"

namespace offload::detail {

class WrappedProcess : public Process
{
public:
    ~WrappedProcess() override;

    int stdinFd() const override { return m_stdinWrite; }
    void closeStdin() override;
    bool isStopping() const override { return m_stopping; }
    void setStdoutPaused(bool paused) override;
    void setStderrPaused(bool paused) override;
    void drainOutput() override;

protected:
    WrappedProcess() = default;

    // The run of request and its streams; false and *error when it cannot be run.
    bool prepare(const SpawnRequest &request, Handlers handlers, Error *error);
    // The client's stdin: a pipe the owner writes (pipeStdin) or a copy of request.stdinFd.
    bool openStdin(const SpawnRequest &request, Error *error);
    // Starts the local client (ssh, srun) with the stdin above; its output is read through
    // the wrapper's streams and its exit goes to onClientExit().
    bool startClient(SpawnRequest client, Error *error);
    virtual void onClientExit(const ExitStatus &local) = 0;
    // Ends the client here (the program's end was reported or it would not stop).
    virtual void endClientHere();
    // Called once when the wrapper reported the program's pid.
    virtual void onLocated() { }
    // Called once before the exit is reported.
    virtual void beforeReport() { }

    // Looks at what the streams said: the program located, its exit read.
    void afterOutput();
    // The SIGKILL was sent over there: the client is ended here if it has not ended soon.
    void endClientSoon();
    // What the wrapper said of the run's end: the program's exit status, or why it did not
    // run (where: the host or node, for the message); nothing if it said neither.
    std::optional<ExitStatus> wrapperVerdict(const QString &where) const;
    // The signal that a run stopped on request ended by.
    int stopSignal() const;
    Error remoteError(ErrorKind kind, RemoteFailure why, const QString &message) const;
    // Reports status from the supervisor's loop (the caller may be inside a member).
    void finishLater(ExitStatus status);
    // Ends both streams if they have not ended, then calls exited: last, may destroy this.
    void report(ExitStatus status);
    void stopTimers();
    // A timer that does nothing once this is gone and clears its id when it fires.
    void arm(uint64_t &timer, std::chrono::milliseconds after, std::function<void()> fn);

    Supervisor &m_sup = Supervisor::instance();
    std::shared_ptr<int> m_alive = std::make_shared<int>(0);
    ssh::RemoteRun m_run;
    Handlers m_handlers;
    std::unique_ptr<WrapperStreams> m_streams;
    std::unique_ptr<ChildProcess> m_client; // ssh or srun; none for a batch job
    int m_stdinRead = -1, m_stdinWrite = -1; // the client's stdin, made before it exists
    bool m_outPaused = false, m_errPaused = false;
    bool m_outEnded = false, m_errEnded = false;
    bool m_located = false, m_stopping = false, m_killSent = false;
    bool m_finished = false, m_reported = false;
    int m_lastSignal = 0;
    std::unique_ptr<StopSequence> m_stopSequence;
    uint64_t m_localKillTimer = 0, m_finishTimer = 0, m_lingerTimer = 0;
};

} // namespace offload::detail
