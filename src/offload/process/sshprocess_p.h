// Private: a program run on a host over ssh, as a Process. Its session goes over the
// target's shared connection (sshconnection_p.h) and runs the wrapper of sshremote_p.h: the
// bytes before the wrapper's first marker (a login script's chatter) never reach the
// program's streams; its exit status comes in a marker on stderr; stopping it signals its
// whole remote tree through the control script, because killing the local ssh client would
// leave a quiet remote program running. Supervisor thread only.
#pragma once

#include "sshconnection_p.h"
#include "sshremote_p.h"
#include "wrapperstreams_p.h"

namespace offload::detail {

class SshProcess final : public Process
{
public:
    static std::unique_ptr<Process> start(
        const SshTarget &target, SpawnRequest request, Handlers handlers, Error *error);
    ~SshProcess() override;

    ProcessInfo sample() const override;
    int stdinFd() const override { return m_stdinWrite; }
    void closeStdin() override;
    void stop(StopPolicy policy) override;
    bool isStopping() const override { return m_stopping; }
    void setStdoutPaused(bool paused) override;
    void setStderrPaused(bool paused) override;
    void drainOutput() override;

private:
    SshProcess() = default;
    void onReady(const Error *error);
    void spawnSession();
    void onSessionExit(const ExitStatus &status);
    void signalRemote(int signal);
    void killRemote();
    void afterOutput();
    void finishLater(ExitStatus status);
    void reportExit(ExitStatus status);
    Error remoteError(ErrorKind kind, RemoteFailure failure, const QString &message) const;

    Supervisor &m_sup = Supervisor::instance();
    std::shared_ptr<int> m_alive = std::make_shared<int>(0);
    std::shared_ptr<SshConnection> m_conn;
    QString m_where;
    ssh::RemoteRun m_run;
    Handlers m_handlers;
    std::unique_ptr<ChildProcess> m_session;
    bool m_mux = false;
    int m_stdinRead = -1, m_stdinWrite = -1; // the session's stdin, made before it exists
    std::unique_ptr<WrapperStreams> m_streams;
    bool m_outPaused = false, m_errPaused = false;
    bool m_stopping = false, m_killSent = false, m_finished = false;
    int m_lastSignal = 0;
    std::unique_ptr<StopSequence> m_stopSequence;
    uint64_t m_localKillTimer = 0, m_finishTimer = 0, m_lingerTimer = 0;
    bool m_located = false;
};

} // namespace offload::detail
