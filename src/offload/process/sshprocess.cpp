#include "sshprocess_p.h"

#include <QFile>

#include <csignal>

namespace offload::detail {

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
    if (!p->prepare(request, std::move(handlers), error) || !p->openStdin(request, error))
        return nullptr;
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
    if (m_client && m_conn)
        m_conn->signalRun(SIGKILL, m_run.nonce); // the remote tree goes with the local client
    m_client.reset();
    if (m_conn) {
        if (m_mux)
            m_conn->returnSession();
        m_conn->removeUser();
    }
}

ProcessInfo SshProcess::sample() const
{
    ProcessInfo info;
    info.pid = m_streams->pid();
    info.location = m_where;
    return info;
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
    m_mux = m_conn->takeSession();
    m_run.connectionDirectory = m_conn->runDirectory(m_mux);
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
    Error error;
    if (!startClient(std::move(req), &error)) {
        ExitStatus status;
        status.failure = error;
        finishLater(status);
    }
}

void SshProcess::onClientExit(const ExitStatus &local)
{
    const QString program = QFile::decodeName(m_run.program);
    const WrapperStreams &w = *m_streams;
    ExitStatus out;
    if (auto verdict = wrapperVerdict(m_where)) {
        out = std::move(*verdict);
    } else if (w.started() && (m_killSent || m_lastSignal)) {
        out.signal = stopSignal();
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
    stopTimers();
    if (m_stopSequence)
        m_stopSequence->cancel();
    m_client.reset(); // reaped already; allowed from its exit handler
    if (m_mux)
        m_conn->returnSession();
    m_mux = false;
    // Its registration goes once its exit was seen; else what it left may still run, and
    // a stop or the connection's end must still reach it.
    if (w.exitStatus())
        m_conn->endRun(m_run.nonce);
    if (m_run.returnFilePlaceholder.isEmpty() || !w.started())
        return report(std::move(out));
    // The program ran: its return-parameter file comes back before the exit is reported.
    m_conn->fetchReturnFile(m_run.nonce,
        [this, weak = std::weak_ptr<int>(m_alive), out](
            const std::optional<QByteArray> &file, const QString &problem) mutable {
            if (!weak.lock())
                return;
            out.returnFile = file;
            out.returnFileProblem = problem;
            report(std::move(out));
        });
}

void SshProcess::stop(StopPolicy policy)
{
    if (m_finished)
        return;
    m_stopping = true;
    if (!m_client)
        return finishLater(ExitStatus { -1, SIGKILL, std::nullopt }); // still connecting
    if (!m_stopSequence)
        m_stopSequence = std::make_unique<StopSequence>(StopSequence::Actions {
            [this](int signal) { signalRemote(signal); }, [this] { killRemote(); } });
    m_stopSequence->start(std::move(policy));
}

void SshProcess::signalRemote(int signal)
{
    if (!m_client)
        return;
    m_lastSignal = signal;
    if (!m_conn->signalRun(signal, m_run.nonce))
        endClientHere(); // no control session: the client at least
}

void SshProcess::killRemote()
{
    if (!m_client)
        return;
    m_killSent = true;
    if (!m_conn->signalRun(SIGKILL, m_run.nonce))
        return endClientHere();
    endClientSoon();
}

} // namespace offload::detail
