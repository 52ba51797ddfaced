// Private: one shared ssh connection per target. Its master is a system ssh client with
// ControlMaster whose own session runs Offload's control script (sshremote_p.h): runs open
// sessions over it, stops go to the control script as one line each, and when the master
// goes (closed, or the application died), the script stops every run still registered.
// Supervisor thread only.
#pragma once

#include "childprocess_p.h"

#include <offload/process/launcher.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <vector>

namespace offload::detail {

class SshConnection : public std::enable_shared_from_this<SshConnection>
{
public:
    // Listening: the master is logged in and takes sessions (its socket exists); its control
    // script may not run yet. Runs start then, with no wait for it: a stop sent before it
    // runs waits in the master's input.
    enum class State { Connecting, Listening, Ready, Failed, Closed };

    // The open (or opening) connection to target, a new one if there is none.
    static std::shared_ptr<SshConnection> get(const SshTarget &target);
    ~SshConnection();

    // fn(nullptr) once the connection takes sessions (Listening or Ready), fn(&error) if it
    // failed; always called later from the loop, never from within whenReady.
    void whenReady(std::function<void(const Error *)> fn);
    State state() const { return m_state; }
    const SshTarget &target() const { return m_target; }
    QString name() const; // "ssh://user@host:port"
    // The control script's directory for a run's wrapper (RemoteRun::connectionDirectory):
    // its path once the script spoke, else from the token, to be made over the master (mux)
    // by whichever comes first.
    QByteArray runDirectory(bool mux) const;
    QString controlPath() const;

    // A run holds the connection open (the idle timeout starts when the last one went).
    void addUser();
    void removeUser();
    // A session over the master while it has room for one (the server's MaxSessions less
    // the control script's own), else false: the caller connects directly.
    bool takeSession();
    void returnSession();
    // Sends signal to the run named by nonce (its whole tree); false if there is no control
    // session to send it to (the caller then ends its local client).
    bool signalRun(int signal, const QByteArray &nonce);
    // Fetches the run's return-parameter file (and removes it over there). fn is called
    // later from the loop: the bytes, nothing if the run wrote none, or a problem sentence.
    using FileHandler
        = std::function<void(const std::optional<QByteArray> &file, const QString &problem)>;
    void fetchReturnFile(const QByteArray &nonce, FileHandler fn);
    // The run ended (it wrote no return file to fetch): its registration goes over there.
    void endRun(const QByteArray &nonce);

private:
    explicit SshConnection(const SshTarget &target);
    void open();
    void close();
    void onMasterStdout(const char *data, size_t size);
    void readAnswers();
    void onMasterExit(const ExitStatus &status);
    void flushControl();
    bool takesSessions() const { return m_state == State::Listening || m_state == State::Ready; }
    void watchSocket(const QString &dir);
    void stopWatchingSocket();
    void onSocketDirChanged();
    void settle(const Error *error);

    SshTarget m_target;
    State m_state = State::Connecting;
    std::unique_ptr<ChildProcess> m_master;
    QByteArray m_stdoutBuf, m_stderrTail;
    QByteArray m_token, m_registryDir;
    QString m_socket;
    QByteArray m_pending; // control lines not yet written
    uint64_t m_writeWatch = 0, m_idleTimer = 0, m_closeTimer = 0;
    int m_notifyFd = -1; // inotify on the socket directory while connecting
    uint64_t m_notifyWatch = 0;
    int m_users = 0, m_sessions = 0;
    std::vector<std::function<void(const Error *)>> m_waiters;
    std::map<QByteArray, FileHandler> m_fetches; // by nonce
    Error m_error;
};

} // namespace offload::detail
