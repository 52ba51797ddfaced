#include "wrappedprocess_p.h"

#include <QFile>

#include <csignal>

#include <fcntl.h>
#include <unistd.h>

namespace offload::detail {

namespace {
// After the SIGKILL was sent over there, the local client is given this long to see its
// run end before it is ended here.
constexpr std::chrono::milliseconds localKillAfter { 3000 };
// After the exit marker, as ChildProcess lingers after the exit of its main process: an
// escaped descendant may still hold the streams.
constexpr std::chrono::milliseconds lingerAfterExit { 1000 };
} // namespace

WrappedProcess::~WrappedProcess()
{
    m_alive.reset();
    stopTimers();
    if (m_finishTimer)
        m_sup.cancelTimer(m_finishTimer);
    m_stopSequence.reset();
    m_client.reset();
    for (int fd : { m_stdinRead, m_stdinWrite })
        if (fd >= 0)
            ::close(fd);
}

bool WrappedProcess::prepare(const SpawnRequest &request, Handlers handlers, Error *error)
{
    if (auto problem = ssh::prepareRun(request, m_run)) {
        *error = *problem;
        return false;
    }
    m_handlers = std::move(handlers);
    m_streams = std::make_unique<WrapperStreams>(
        ssh::markerPrefix(m_run.nonce),
        [this](const char *d, size_t n) {
            m_outEnded = m_outEnded || n == 0;
            m_handlers.stdoutData(d, n);
        },
        [this](const char *d, size_t n) {
            m_errEnded = m_errEnded || n == 0;
            m_handlers.stderrData(d, n);
        });
    return true;
}

bool WrappedProcess::openStdin(const SpawnRequest &request, Error *error)
{
    if (request.pipeStdin) {
        int fds[2];
        if (::pipe2(fds, O_CLOEXEC) != 0) {
            *error = Error { ErrorKind::Launch,
                QStringLiteral("cannot start '%1': no pipe for its input: %2")
                    .arg(request.program, QString::fromLocal8Bit(::strerror(errno))),
                request.program };
            return false;
        }
        m_stdinRead = fds[0];
        m_stdinWrite = fds[1];
        ::fcntl(m_stdinWrite, F_SETFL, ::fcntl(m_stdinWrite, F_GETFL) | O_NONBLOCK);
    } else if (request.stdinFd >= 0) {
        m_stdinRead = ::fcntl(request.stdinFd, F_DUPFD_CLOEXEC, 3);
    }
    return true;
}

bool WrappedProcess::startClient(SpawnRequest client, Error *error)
{
    client.stdinFd = m_stdinRead;
    client.niceness = 0; // the program gets the niceness, where it runs
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
            onClientExit(s);
    };
    m_client = ChildProcess::start(std::move(client), std::move(h), error);
    if (m_stdinRead >= 0)
        ::close(m_stdinRead); // the client has its own copy
    m_stdinRead = -1;
    if (!m_client)
        return false;
    m_client->setStdoutPaused(m_outPaused);
    m_client->setStderrPaused(m_errPaused);
    return true;
}

void WrappedProcess::endClientHere()
{
    if (m_client)
        m_client->stop({ StopStep::kill() });
}

void WrappedProcess::afterOutput()
{
    if (m_streams->started() && !m_located) {
        m_located = true;
        onLocated();
        if (m_handlers.located)
            m_handlers.located();
    }
    if (m_streams->exitStatus() && !m_lingerTimer && m_client)
        arm(m_lingerTimer, lingerAfterExit, [this] { endClientHere(); });
}

void WrappedProcess::endClientSoon()
{
    if (m_client && !m_localKillTimer)
        arm(m_localKillTimer, localKillAfter, [this] { endClientHere(); });
}

std::optional<ExitStatus> WrappedProcess::wrapperVerdict(const QString &where) const
{
    ExitStatus out;
    const QString program = QFile::decodeName(m_run.program);
    const QByteArray refusal = m_streams->refusal();
    const auto refused = [&](RemoteFailure why, const QString &what) {
        out.failure = remoteError(ErrorKind::Launch, why,
            QStringLiteral("cannot start '%1' on %2: %3").arg(program, where, what));
        return out;
    };
    if (const auto s = m_streams->exitStatus()) {
        // The shell's convention: 128 + N for a program killed by signal N.
        if (*s > 128 && *s <= 128 + 64)
            out.signal = *s - 128;
        else
            out.exitCode = *s;
        return out;
    }
    if (refusal.isEmpty())
        return std::nullopt;
    if (refusal == "stopped") {
        out.signal = stopSignal();
        return out;
    }
    if (refusal == "missing")
        return refused(RemoteFailure::ProgramMissing, QStringLiteral("no such program"));
    if (refusal == "nodir")
        return refused(RemoteFailure::ProgramMissing,
            QStringLiteral("working directory '%1' does not exist")
                .arg(QFile::decodeName(m_run.workingDirectory)));
    if (refusal == "notemp")
        return refused(RemoteFailure::None,
            QStringLiteral("no private directory for its return-parameter file could be made"));
    if (refusal == "noregister")
        return refused(RemoteFailure::None,
            QStringLiteral("it could not be registered for cancel (the connection's control "
                           "directory is gone)"));
    if (refusal == "nogroup")
        return refused(RemoteFailure::None,
            QStringLiteral("it cannot have a process group of its own there (no setsid), so "
                           "it could not be stopped"));
    return refused(RemoteFailure::None,
        QStringLiteral("the wrapper refused (%1)").arg(QString::fromLatin1(refusal.left(64))));
}

int WrappedProcess::stopSignal() const
{
    return m_killSent ? SIGKILL : (m_lastSignal ? m_lastSignal : SIGTERM);
}

Error WrappedProcess::remoteError(ErrorKind kind, RemoteFailure why, const QString &message) const
{
    Error e;
    e.kind = kind;
    e.remoteFailure = why;
    e.origin = QFile::decodeName(m_run.program);
    e.message = message;
    e.stderrTail = (m_streams->prelude() + m_streams->stderrTail()).right(4096);
    return e;
}

void WrappedProcess::finishLater(ExitStatus status)
{
    if (m_finished)
        return;
    m_finished = true;
    m_finishTimer = m_sup.addTimer(std::chrono::milliseconds(0),
        [this, weak = std::weak_ptr<int>(m_alive), status = std::move(status)] {
            if (!weak.lock())
                return;
            m_finishTimer = 0;
            report(status);
        });
}

void WrappedProcess::report(ExitStatus status)
{
    if (m_reported)
        return;
    m_reported = true;
    m_finished = true;
    stopTimers();
    if (m_stopSequence)
        m_stopSequence->cancel();
    beforeReport();
    const std::weak_ptr<int> weak = m_alive;
    if (!m_outEnded) {
        m_streams->stdoutData(nullptr, 0);
        if (!weak.lock())
            return;
    }
    if (!m_errEnded) {
        m_streams->stderrData(nullptr, 0);
        if (!weak.lock())
            return;
    }
    if (auto exited = std::move(m_handlers.exited))
        exited(status); // last: may destroy this
}

void WrappedProcess::stopTimers()
{
    for (uint64_t *t : { &m_localKillTimer, &m_lingerTimer }) {
        if (*t)
            m_sup.cancelTimer(*t);
        *t = 0;
    }
}

void WrappedProcess::arm(uint64_t &timer, std::chrono::milliseconds after, std::function<void()> fn)
{
    timer = m_sup.addTimer(
        after, [this, &timer, weak = std::weak_ptr<int>(m_alive), fn = std::move(fn)] {
            if (!weak.lock())
                return;
            timer = 0;
            fn();
        });
}

void WrappedProcess::closeStdin()
{
    if (m_stdinWrite >= 0)
        ::close(m_stdinWrite);
    m_stdinWrite = -1;
}

void WrappedProcess::setStdoutPaused(bool paused)
{
    m_outPaused = paused;
    if (m_client)
        m_client->setStdoutPaused(paused);
}

void WrappedProcess::setStderrPaused(bool paused)
{
    m_errPaused = paused;
    if (m_client)
        m_client->setStderrPaused(paused);
}

void WrappedProcess::drainOutput()
{
    if (m_client)
        m_client->drainOutput();
}

} // namespace offload::detail
