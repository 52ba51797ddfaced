#include "sshprocess_p.h"
#include "sshremote_p.h"

#include <QFileInfo>
#include <QRandomGenerator>

#include <csignal>

#include <fcntl.h>
#include <unistd.h>

namespace offload::detail {

namespace {
// After the control script was asked to SIGKILL the run, the local client is given this long
// to see its session end before it is killed too.
constexpr std::chrono::milliseconds localKillAfter { 3000 };
// After the exit marker, as ChildProcess lingers after the exit of its main process.
constexpr std::chrono::milliseconds lingerAfterExit { 1000 };

} // namespace

std::unique_ptr<Process> SshProcess::start(
    const SshTarget &target, SpawnRequest request, Handlers handlers, Error *error)
{
    const auto fail = [&](ErrorKind kind, const QString &why) -> std::unique_ptr<Process> {
        *error = Error { kind,
            QStringLiteral("cannot start '%1' over ssh: %2").arg(request.program, why),
            request.program };
        return nullptr;
    };
    if (target.host.isEmpty() || target.host.startsWith(QLatin1Char('-')))
        return fail(ErrorKind::InvalidInput, QStringLiteral("no valid host name given"));
    if (request.program.isEmpty() || request.program.startsWith(QLatin1Char('-')))
        return fail(ErrorKind::Launch, QStringLiteral("no valid program name given"));
    std::unique_ptr<SshProcess> p(new SshProcess);
    if (auto problem = ssh::prepareRun(request, p->m_run)) {
        *error = *problem;
        return nullptr;
    }
    p->m_handlers = std::move(handlers);
    p->m_streams = std::make_unique<WrapperStreams>(
        ssh::markerPrefix(p->m_run.nonce),
        [self = p.get()](const char *d, size_t n) { self->m_handlers.stdoutData(d, n); },
        [self = p.get()](const char *d, size_t n) { self->m_handlers.stderrData(d, n); });
    if (request.pipeStdin) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0)
            return fail(ErrorKind::Launch, QString::fromLocal8Bit(::strerror(errno)));
        p->m_stdinRead = fds[0];
        p->m_stdinWrite = fds[1];
        ::fcntl(p->m_stdinWrite, F_SETFL, ::fcntl(p->m_stdinWrite, F_GETFL) | O_NONBLOCK);
    } else if (request.stdinFd >= 0) {
        p->m_stdinRead = ::fcntl(request.stdinFd, F_DUPFD_CLOEXEC, 3);
    }
    p->m_conn = SshConnection::get(target);
    p->m_where = p->m_conn->name();
    p->m_conn->addUser();
    SshProcess *self = p.get();
    p->m_conn->whenReady([self, weak = std::weak_ptr<int>(p->m_alive)](const Error *e) {
        if (weak.lock())
            self->onReady(e);
    });
    return p;
}

SshProcess::~SshProcess()
{
    m_alive.reset();
    for (uint64_t t : { m_localKillTimer, m_finishTimer, m_lingerTimer })
        if (t)
            m_sup.cancelTimer(t);
    m_stopSequence.reset();
    if (m_session && m_conn)
        m_conn->signalRun(SIGKILL, m_run.nonce); // the remote tree goes with the local client
    m_session.reset();
    if (m_conn) {
        if (m_mux)
            m_conn->returnSession();
        m_conn->removeUser();
    }
    for (int fd : { m_stdinRead, m_stdinWrite })
        if (fd >= 0)
            ::close(fd);
}

ProcessInfo SshProcess::sample() const
{
    ProcessInfo info;
    info.pid = m_streams->pid();
    info.location = m_where;
    return info;
}

void SshProcess::closeStdin()
{
    if (m_stdinWrite >= 0)
        ::close(m_stdinWrite);
    m_stdinWrite = -1;
}

void SshProcess::onReady(const Error *error)
{
    if (m_finished || m_stopping)
        return; // stop() already ended it
    if (error) {
        ExitStatus status;
        status.failure = *error;
        return finishLater(status);
    }
    spawnSession();
}

void SshProcess::spawnSession()
{
    m_run.registryDir = m_conn->registryDir();
    m_mux = m_conn->takeSession();
    SpawnRequest req;
    req.program = QStringLiteral("ssh");
    QStringList args = ssh::baseArguments(m_conn->target());
    if (m_mux)
        args << QStringLiteral("-S") << m_conn->controlPath() << QStringLiteral("-o")
             << QStringLiteral("ControlMaster=no");
    else
        args << QStringLiteral("-S") << QStringLiteral("none");
    args << QStringLiteral("--") << m_conn->target().host;
    req.arguments = toArguments(args);
    req.arguments << ssh::runCommand(m_run);
    req.stdinFd = m_stdinRead;
    req.niceness = 0; // the remote program gets the niceness
    const std::weak_ptr<int> weak = m_alive;
    Handlers h;
    h.stdoutData = [this, weak](const char *d, size_t n) {
        if (!weak.lock())
            return;
        m_streams->stdoutData(d, n);
        if (weak.lock())
            afterOutput();
    };
    h.stderrData = [this, weak](const char *d, size_t n) {
        if (!weak.lock())
            return;
        m_streams->stderrData(d, n);
        if (weak.lock())
            afterOutput();
    };
    h.exited = [this, weak](const ExitStatus &s) {
        if (weak.lock())
            onSessionExit(s);
    };
    Error error;
    m_session = ChildProcess::start(std::move(req), std::move(h), &error);
    if (m_stdinRead >= 0)
        ::close(m_stdinRead); // the client has its own copy
    m_stdinRead = -1;
    if (!m_session) {
        ExitStatus status;
        status.failure = error;
        return finishLater(status);
    }
    m_session->setStdoutPaused(m_outPaused);
    m_session->setStderrPaused(m_errPaused);
}

// What the markers read so far mean for the owner: the pid is known; the program has ended.
void SshProcess::afterOutput()
{
    if (m_streams->started() && !m_located) {
        m_located = true;
        if (m_handlers.located)
            m_handlers.located();
    }
    // Exited over there, but an escaped descendant still holds the streams: the session
    // is given a moment for the rest of the output, then ended here.
    if (m_streams->exitStatus() && !m_lingerTimer && m_session)
        m_lingerTimer = m_sup.addTimer(lingerAfterExit, [this, weak = std::weak_ptr<int>(m_alive)] {
            if (!weak.lock())
                return;
            m_lingerTimer = 0;
            if (m_session)
                m_session->stop({ StopStep::kill() });
        });
}

Error SshProcess::remoteError(ErrorKind kind, RemoteFailure failure, const QString &message) const
{
    Error e;
    e.kind = kind;
    e.remoteFailure = failure;
    e.origin = QFile::decodeName(m_run.program);
    e.message = message;
    e.stderrTail = m_streams->prelude().right(4096);
    return e;
}

void SshProcess::onSessionExit(const ExitStatus &local)
{
    ExitStatus out;
    const QString program = QFile::decodeName(m_run.program);
    const WrapperStreams &w = *m_streams;
    const QByteArray refusal = w.refusal();
    if (const auto s = w.exitStatus()) {
        // The shell's convention: 128 + N for a program killed by signal N.
        if (*s > 128 && *s <= 128 + 64)
            out.signal = *s - 128;
        else
            out.exitCode = *s;
    } else if (refusal == "missing") {
        out.failure = remoteError(ErrorKind::Launch, RemoteFailure::ProgramMissing,
            QStringLiteral("cannot start '%1' on %2: no such program").arg(program, m_where));
    } else if (refusal == "nodir") {
        out.failure = remoteError(ErrorKind::Launch, RemoteFailure::ProgramMissing,
            QStringLiteral("cannot start '%1' on %2: working directory '%3' does not exist")
                .arg(program, m_where, QFile::decodeName(m_run.workingDirectory)));
    } else if (refusal == "notemp") {
        out.failure = remoteError(ErrorKind::Launch, RemoteFailure::None,
            QStringLiteral("cannot start '%1' on %2: no private directory for its "
                           "return-parameter file could be made")
                .arg(program, m_where));
    } else if (refusal == "noregister") {
        out.failure = remoteError(ErrorKind::Launch, RemoteFailure::None,
            QStringLiteral("cannot start '%1' on %2: it could not be registered for cancel "
                           "(the connection's control directory is gone)")
                .arg(program, m_where));
    } else if (refusal == "nogroup") {
        out.failure = remoteError(ErrorKind::Launch, RemoteFailure::None,
            QStringLiteral("cannot start '%1' on %2: it cannot have a process group of its "
                           "own there (no setsid), so it could not be stopped")
                .arg(program, m_where));
    } else if (refusal == "stopped") {
        out.signal = SIGTERM;
    } else if (w.started() && (m_killSent || m_lastSignal)) {
        out.signal = m_killSent ? SIGKILL : m_lastSignal;
    } else if (w.started()) {
        out.failure = ssh::classifyFailure(m_where, w.stderrTail(), local.exitCode, true);
        out.failure->origin = program;
    } else if (m_stopping) {
        out.signal = SIGKILL; // stopped before it ran
    } else {
        out.failure = ssh::classifyFailure(m_where, w.prelude(), local.exitCode, false);
        out.failure->origin = program;
    }
    m_finished = true;
    for (uint64_t *t : { &m_localKillTimer, &m_lingerTimer }) {
        if (*t)
            m_sup.cancelTimer(*t);
        *t = 0;
    }
    if (m_stopSequence)
        m_stopSequence->cancel();
    m_session.reset(); // reaped already; allowed from its exit handler
    if (m_mux)
        m_conn->returnSession();
    m_mux = false;
    if (m_run.returnFilePlaceholder.isEmpty() || !m_streams->started())
        return reportExit(std::move(out));
    // The program ran: its return-parameter file comes back before the exit is reported.
    m_conn->fetchReturnFile(m_run.nonce,
        [this, weak = std::weak_ptr<int>(m_alive), out](
            const std::optional<QByteArray> &file, const QString &problem) mutable {
            if (!weak.lock())
                return;
            out.returnFile = file;
            out.returnFileProblem = problem;
            reportExit(std::move(out));
        });
}

void SshProcess::reportExit(ExitStatus status)
{
    if (auto exited = std::move(m_handlers.exited))
        exited(status); // last: may destroy this
}

void SshProcess::finishLater(ExitStatus status)
{
    if (m_finished)
        return;
    m_finished = true;
    m_finishTimer = m_sup.addTimer(std::chrono::milliseconds(0),
        [this, weak = std::weak_ptr<int>(m_alive), status = std::move(status)] {
            if (!weak.lock())
                return;
            m_finishTimer = 0;
            m_handlers.stdoutData(nullptr, 0);
            if (!weak.lock())
                return;
            m_handlers.stderrData(nullptr, 0);
            if (!weak.lock())
                return;
            if (auto exited = std::move(m_handlers.exited))
                exited(status);
        });
}

void SshProcess::stop(StopPolicy policy)
{
    if (m_finished)
        return;
    m_stopping = true;
    if (!m_session)
        return finishLater(ExitStatus { -1, SIGKILL, std::nullopt }); // still connecting
    if (!m_stopSequence)
        m_stopSequence = std::make_unique<StopSequence>(StopSequence::Actions {
            [this](int signal) { signalRemote(signal); }, [this] { killRemote(); } });
    m_stopSequence->start(std::move(policy));
}

void SshProcess::signalRemote(int signal)
{
    if (!m_session)
        return;
    m_lastSignal = signal;
    if (!m_conn->signalRun(signal, m_run.nonce))
        m_session->stop({ StopStep::kill() }); // no control session: the client at least
}

void SshProcess::killRemote()
{
    if (!m_session)
        return;
    m_killSent = true;
    if (!m_conn->signalRun(SIGKILL, m_run.nonce))
        return m_session->stop({ StopStep::kill() });
    if (!m_localKillTimer)
        m_localKillTimer
            = m_sup.addTimer(localKillAfter, [this, weak = std::weak_ptr<int>(m_alive)] {
                  if (!weak.lock())
                      return;
                  m_localKillTimer = 0;
                  if (m_session)
                      m_session->stop({ StopStep::kill() });
              });
}

void SshProcess::setStdoutPaused(bool paused)
{
    m_outPaused = paused;
    if (m_session)
        m_session->setStdoutPaused(paused);
}

void SshProcess::setStderrPaused(bool paused)
{
    m_errPaused = paused;
    if (m_session)
        m_session->setStderrPaused(paused);
}

void SshProcess::drainOutput()
{
    if (m_session)
        m_session->drainOutput();
}

} // namespace offload::detail
