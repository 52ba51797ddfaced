// Launcher: where a program run or a worker runs (this machine, or a host over ssh).
#pragma once

#include <offload/process/export.h>

#include <QString>
#include <QStringList>

#include <chrono>
#include <optional>

namespace offload {

// A host reached with the system's ssh client. Connections are shared: the first run on a
// target opens one master connection (the handshake is paid once) and later runs open
// sessions over it; a target whose server allows fewer sessions (OpenSSH's default is 10)
// gets direct connections beyond that, one of its sessions being Offload's own.
// Authentication is by key only (BatchMode): no password or passphrase is ever asked.
struct SshTarget
{
    QString host; // a name, an address or a Host alias of the ssh configuration
    QString user; // empty: ssh's default (the configuration's, else the local user)
    int port = 0; // 0: ssh's default
    QString configFile; // ssh -F; empty: ~/.ssh/config and the system's
    QString identityFile; // ssh -i; empty: the configuration's keys
    // A known_hosts file of this profile's, checked strictly: a changed or unknown host key
    // fails the run (RemoteFailure::HostKeyChanged / HostKeyUnknown). Empty: ssh's own files
    // and its configured checking.
    QString knownHostsFile;
    QStringList options; // more "-o Name=value" options, e.g. "ConnectTimeout=5"
    std::chrono::seconds connectTimeout { 15 };
    // How long a shared connection stays open after its last run ended.
    std::chrono::seconds idleTimeout { 30 };
    int maxSessions = 10; // the server's MaxSessions: sessions beyond it connect directly

    friend bool operator==(const SshTarget &, const SshTarget &) = default;
};

// Where work runs. A value type; any thread. The default is this machine.
// Over ssh the program, its arguments and working directory name things on the remote host;
// the variables of ProgramSpec/WorkerPoolSpec::environment that differ from this process's
// environment are set there (removed ones unset), the rest is the remote login's environment.
// The remote login shell must be a POSIX shell (sh, bash, dash, ksh, zsh).
class OFFLOAD_PROCESS_EXPORT Launcher
{
public:
    enum class Kind { Local, Ssh };

    Launcher() = default;
    static Launcher local() { return {}; }
    static Launcher ssh(SshTarget target);
    // "local", or "ssh://[user@]host[:port]" (an IPv6 address in brackets). nullopt and
    // *error (one sentence) for anything else.
    static std::optional<Launcher> parse(const QString &text, QString *error = nullptr);

    Kind kind() const { return m_kind; }
    bool isLocal() const { return m_kind == Kind::Local; }
    const SshTarget &sshTarget() const { return m_ssh; }
    // "local" or "ssh://user@host:port", as the monitor shows it.
    QString toString() const;

    friend bool operator==(const Launcher &, const Launcher &) = default;

private:
    Kind m_kind = Kind::Local;
    SshTarget m_ssh;
};

} // namespace offload
