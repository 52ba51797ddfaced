// Private: a program run on a host over ssh, as a Process. Its session goes over the
// target's shared connection (sshconnection_p.h) and runs the wrapper of sshremote_p.h: the
// bytes before the wrapper's first marker (a login script's chatter) never reach the
// program's streams; its exit status comes in a marker on stderr; stopping it signals its
// whole remote tree through the control script, because killing the local ssh client would
// leave a quiet remote program running. Supervisor thread only.
#pragma once

#include "sshconnection_p.h"
#include "wrappedprocess_p.h"

namespace offload::detail {

class SshProcess final : public WrappedProcess
{
public:
    static std::unique_ptr<Process> start(
        const SshTarget &target, SpawnRequest request, Handlers handlers, Error *error);
    ~SshProcess() override;

    ProcessInfo sample() const override;
    void stop(StopPolicy policy) override;

private:
    SshProcess() = default;
    void onReady(const Error *error);
    void spawnSession();
    void onClientExit(const ExitStatus &local) override;
    void signalRemote(int signal);
    void killRemote();

    std::shared_ptr<SshConnection> m_conn;
    QString m_where;
    bool m_mux = false; // the session goes over the shared connection
};

} // namespace offload::detail
