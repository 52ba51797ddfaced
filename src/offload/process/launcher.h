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

// A Slurm cluster reached with its own client commands (srun, sbatch, squeue, scontrol,
// scancel) from this machine. A run is an srun step (output streamed live; worker pools run
// so) or, with batch, an sbatch job (it may wait in the queue for long; its output is read
// from its files, which must be visible here and on the nodes). A job waiting in the queue
// is a Queued task whose progress text gives Slurm's reason. The state of every job of the
// application comes from one squeue per interval, never one per task.
struct SlurmTarget
{
    QString partition; // empty: the cluster's default
    bool batch = false; // sbatch instead of srun (not for worker pools)
    QStringList options; // more srun/sbatch options, e.g. "--mem=4G", "--time=30"
    // How often squeue is asked while jobs wait or run; with nothing changing it backs off
    // to 4 times this, and a new job brings the next query within 2 s.
    std::chrono::seconds pollInterval { 30 };
    // Where batch jobs write their output (a directory here that the nodes see too); empty:
    // ~/.cache/offload/slurm.
    QString outputDirectory;

    friend bool operator==(const SlurmTarget &, const SlurmTarget &) = default;
};

// Where work runs. A value type; any thread. The default is this machine.
// Over ssh the program, its arguments and working directory name things on the remote host;
// the variables of ProgramSpec/WorkerPoolSpec::environment that differ from this process's
// environment are set there (removed ones unset), the rest is the remote login's environment.
// The remote login shell must be a POSIX shell (sh, bash, dash, ksh, zsh).
class OFFLOAD_PROCESS_EXPORT Launcher
{
public:
    enum class Kind { Local, Ssh, Slurm };

    Launcher() = default;
    static Launcher local() { return {}; }
    static Launcher ssh(SshTarget target);
    static Launcher slurm(SlurmTarget target);
    // "local", "ssh://[user@]host[:port]" (an IPv6 address in brackets), "slurm[:PARTITION]"
    // (srun steps) or "sbatch[:PARTITION]" (batch jobs). nullopt and *error (one sentence)
    // for anything else.
    static std::optional<Launcher> parse(const QString &text, QString *error = nullptr);

    Kind kind() const { return m_kind; }
    bool isLocal() const { return m_kind == Kind::Local; }
    const SshTarget &sshTarget() const { return m_ssh; }
    const SlurmTarget &slurmTarget() const { return m_slurm; }
    // "local", "ssh://user@host:port", "slurm:PARTITION" or "sbatch:PARTITION", as the
    // monitor shows it.
    QString toString() const;

    friend bool operator==(const Launcher &, const Launcher &) = default;

private:
    Kind m_kind = Kind::Local;
    SshTarget m_ssh;
    SlurmTarget m_slurm;
};

} // namespace offload
