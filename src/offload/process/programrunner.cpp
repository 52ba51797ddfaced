// ProgramRunner: a queue of program runs whose I/O runs on the supervisor thread.
#include <offload/process/programrunner.h>
#include <offload/process/progresslinescanner.h>
#include <offload/process/semtagscanner.h>

#include "launch_p.h"
#include "logring_p.h"
#include "returnfile_p.h"
#include "supervisor_p.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QThread>

#include <csignal>
#include <deque>
#include <future>
#include <map>

#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

namespace offload {
namespace detail {

struct Run
{
    quint64 id = 0;
    ProgramSpec spec;
    std::optional<TaskPromise<ProgramResult>> task; // set once, before it is submitted
    bool stopRequested = false; // by shutdown: it ends Cancelled
    std::unique_ptr<Process> child;
    uint64_t wIn = 0;
    qsizetype stdinOffset = 0;
    std::unique_ptr<SemTagScanner> sem;
    std::unique_ptr<ProgressLineScanner> lines;
    LogRing out { 1 << 20 }, err { 1 << 20 };
    QByteArray raw;
    bool rawOverflow = false;
    QMap<QString, QString> semResults;
    Supervisor::Clock::time_point started;
    uint64_t timeoutTimer = 0;
    bool stopping = false; // cancel or timeout: no more progress, the tree is being stopped
    bool timedOut = false;
    quint64 semGen = 0, linesGen = 0;
    QByteArray returnDir; // private temporary directory for the return-parameter file
    ~Run()
    {
        if (spec.stdinFd >= 0)
            ::close(spec.stdinFd); // our duplicate
    }
};

class RunnerImpl : public std::enable_shared_from_this<RunnerImpl>
{
public:
    explicit RunnerImpl(int max) : maxParallel(max) { }
    const int maxParallel;
    std::atomic<bool> accepting { true };
    std::atomic<quint64> nextId { 1 };

    void enqueue(std::shared_ptr<Run> run)
    {
        if (isFinalState(run->task->state()))
            return;
        if (m_stopping)
            return void(run->task->finishCancelled()); // never started
        m_queue.push_back(std::move(run));
        startNext();
    }

    void cancel(quint64 id)
    {
        for (auto it = m_queue.begin(); it != m_queue.end(); ++it) {
            if ((*it)->id == id) {
                auto run = *it;
                m_queue.erase(it);
                run->task->finishCancelled();
                return;
            }
        }
        if (auto it = m_running.find(id); it != m_running.end())
            stop(*it->second);
    }

    void resumeOutput(quint64 id)
    {
        if (auto it = m_running.find(id); it != m_running.end() && it->second->child)
            it->second->child->setStdoutPaused(false), it->second->child->setStderrPaused(false);
    }

    void shutdown(std::shared_ptr<std::promise<void>> done)
    {
        m_stopping = true;
        while (!m_queue.empty()) {
            m_queue.front()->task->finishCancelled();
            m_queue.pop_front();
        }
        for (auto &[id, run] : m_running) {
            run->stopRequested = true;
            stop(*run);
        }
        if (m_running.empty())
            done->set_value();
        else
            m_stopped = std::move(done);
    }

private:
    Supervisor &sup() { return Supervisor::instance(); }

    void startNext()
    {
        while (!m_stopping && int(m_running.size()) < maxParallel && !m_queue.empty()) {
            auto run = std::move(m_queue.front());
            m_queue.pop_front();
            if (!isFinalState(run->task->state()))
                start(run);
        }
    }

    void start(const std::shared_ptr<Run> &run)
    {
        ProgramSpec &s = run->spec;
        // A Slurm job is a Queued task until it runs (it may wait in Slurm's queue for long).
        const bool queuedUntilRunning = s.launcher.kind() == Launcher::Kind::Slurm;
        if (!queuedUntilRunning && !run->task->markStarting())
            return;
        SpawnRequest req;
        req.program = s.program;
        req.arguments = s.arguments;
        req.environment = s.environment;
        if (!req.environment.contains("PYTHONUNBUFFERED"))
            req.environment.insert("PYTHONUNBUFFERED", "1");
        req.workingDirectory = s.workingDirectory;
        req.niceness = s.niceness;
        req.pipeStdin
            = s.stdinFd < 0 && (!s.stdinData.isEmpty() || s.progress == ProgressFormat::Raw);
        req.stdinFd = s.stdinFd;
        if (s.returnParameterFile && !s.launcher.isLocal()) {
            // The launcher makes the private file over there and brings its bytes back.
            req.returnFileArgument = ProgramSpec::returnParameterFilePlaceholder;
            if (!req.arguments.contains(req.returnFileArgument))
                req.arguments << QByteArrayLiteral("--returnparameterfile")
                              << req.returnFileArgument;
        }
        if (s.returnParameterFile && s.launcher.isLocal()
            && !prepareReturnFile(run->returnDir, req.arguments)) {
            run->task->fail(Error { ErrorKind::Launch,
                QStringLiteral(
                    "cannot create a private directory for the return parameters in %1: %2")
                    .arg(QDir::tempPath(), QString::fromLocal8Bit(::strerror(errno))) });
            return;
        }
        run->out = LogRing(s.outputLimit);
        run->err = LogRing(s.outputLimit);
        setUpScanners(*run);
        run->started = Supervisor::Clock::now();
        const auto self = shared_from_this();
        Run *r = run.get();
        Process::Handlers handlers;
        handlers.stdoutData = [self, r](const char *data, size_t n) {
            if (n > 0)
                self->onStdout(*r, data, qsizetype(n));
        };
        handlers.stderrData = [self, r](const char *data, size_t n) {
            if (n > 0)
                self->onStderr(*r, data, qsizetype(n));
        };
        handlers.exited = [self, r](const ExitStatus &status) { self->onExit(*r, status); };
        handlers.located = [self, r, queuedUntilRunning] {
            if (!r->child)
                return;
            r->task->setProcessInfo(r->child->sample());
            if (!queuedUntilRunning)
                return;
            if (!r->task->markStarting() || !r->task->start())
                return self->stop(*r); // cancelled while it waited
            r->task->updateProgress([](Progress &p) { p.text.clear(); }); // no longer waiting
            self->armTimeout(*r);
        };
        handlers.pending = [r](const QString &reason) {
            r->task->updateProgress([&](Progress &p) {
                p.text = QStringLiteral("waiting in Slurm's queue (%1)").arg(reason);
            });
        };
        Error error;
        run->child = startProcess(s.launcher, std::move(req), std::move(handlers), &error);
        if (s.stdinFd >= 0) {
            ::close(s.stdinFd); // the child has its own copy now
            s.stdinFd = -1;
        }
        if (!run->child) {
            QString ignored;
            collectReturnFile(run->returnDir, &ignored);
            run->task->fail(error);
            return;
        }
        run->task->setOutputResumeHandler([weak = std::weak_ptr<RunnerImpl>(self), id = run->id] {
            if (auto impl = weak.lock())
                Supervisor::instance().post([impl, id] { impl->resumeOutput(id); });
        });
        if (!queuedUntilRunning)
            run->task->start();
        run->task->setProcessInfo(run->child->sample());
        m_running.emplace(run->id, run);
        if (!m_sampleTimer)
            m_sampleTimer = sup().addTimer(
                std::chrono::milliseconds(500), [self] { self->sampleProcesses(); });
        if (run->child->stdinFd() >= 0) {
            run->wIn = sup().watch(
                run->child->stdinFd(), EPOLLOUT, [self, r](uint32_t) { self->writeStdin(*r); });
            writeStdin(*run);
        }
        if (!queuedUntilRunning)
            armTimeout(*run);
    }

    // The timeout counts from the moment the program runs.
    void armTimeout(Run &run)
    {
        if (run.spec.timeout.count() <= 0 || run.timeoutTimer)
            return;
        run.timeoutTimer = sup().addTimer(run.spec.timeout, [self = shared_from_this(), r = &run] {
            r->timeoutTimer = 0;
            r->timedOut = true;
            self->stop(*r);
        });
    }

    // Output for the task; false when its consumer is behind (the caller pauses the stream).
    bool forward(Run &run, OutputChunk::Stream stream, const QByteArray &bytes)
    {
        const bool more = run.task->appendOutput(stream, bytes);
        if (!more && !run.stopping) {
            if (stream == OutputChunk::Stdout)
                run.child->setStdoutPaused(true);
            else
                run.child->setStderrPaused(true);
        }
        return more;
    }

    void setUpScanners(Run &run)
    {
        const auto text = [this, &run](const QByteArray &bytes) {
            run.out.append(bytes.constData(), bytes.size());
            forward(run, OutputChunk::Stdout, bytes);
        };
        const auto result
            = [&run](const QString &n, const QString &v) { run.semResults.insert(n, v); };
        switch (run.spec.progress) {
        case ProgressFormat::Sem:
            run.sem = std::make_unique<SemTagScanner>(text, result);
            break;
        case ProgressFormat::Lines:
            run.lines = std::make_unique<ProgressLineScanner>(text);
            break;
        case ProgressFormat::Auto: // tags out first, then PROGRESS lines out of what is left
            run.lines = std::make_unique<ProgressLineScanner>(text);
            run.sem = std::make_unique<SemTagScanner>(
                [&run](const QByteArray &t) { run.lines->feed(t); }, result);
            break;
        case ProgressFormat::Raw:
        case ProgressFormat::None:
            break;
        }
    }

    void updateProgress(Run &run)
    {
        if (run.stopping)
            return; // after cancel, no further progress reaches the task
        std::optional<double> fraction;
        std::optional<QString> text;
        std::optional<Stage> stage;
        bool changed = false;
        if (run.sem && run.sem->generation() != run.semGen) {
            run.semGen = run.sem->generation();
            const SemProgress &sp = run.sem->progress();
            fraction = sp.progress;
            text = !sp.progressText.isEmpty() ? sp.progressText : sp.comment;
            if (!sp.name.isEmpty())
                stage = Stage { sp.name, 0, 1 };
            changed = true;
        }
        if (run.lines && run.lines->generation() != run.linesGen) {
            run.linesGen = run.lines->generation();
            if (run.lines->progress())
                fraction = run.lines->progress();
            changed = true;
        }
        if (!changed)
            return;
        run.task->updateProgress([&](Progress &p) {
            if (fraction)
                p.setFraction(*fraction);
            if (text)
                p.text = *text;
            if (stage)
                p.stage = *stage;
        });
    }

    void onStdout(Run &run, const char *buf, qsizetype n)
    {
        switch (run.spec.progress) {
        case ProgressFormat::Sem:
        case ProgressFormat::Auto:
            run.sem->feed(buf, n);
            break;
        case ProgressFormat::Lines:
            run.lines->feed(buf, n);
            break;
        case ProgressFormat::Raw:
            if (run.raw.size() + n <= run.spec.rawLimit) {
                run.raw.append(buf, n);
            } else if (!run.rawOverflow) {
                run.rawOverflow = true; // the run fails; the program is stopped
                stop(run);
            }
            break;
        case ProgressFormat::None:
            run.out.append(buf, n);
            forward(run, OutputChunk::Stdout, QByteArray(buf, n));
            break;
        }
        updateProgress(run);
    }

    void onStderr(Run &run, const char *buf, qsizetype n)
    {
        run.err.append(buf, n);
        forward(run, OutputChunk::Stderr, QByteArray(buf, n));
    }

    void writeStdin(Run &run)
    {
        const QByteArray &data = run.spec.stdinData;
        const int fd = run.child->stdinFd();
        while (run.stdinOffset < data.size()) {
            const ssize_t n = ::write(
                fd, data.constData() + run.stdinOffset, size_t(data.size() - run.stdinOffset));
            if (n > 0) {
                run.stdinOffset += n;
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                return; // EPOLLOUT will call again
            break; // EPIPE: the program does not read stdin
        }
        if (run.wIn)
            sup().unwatch(run.wIn);
        run.wIn = 0;
        run.child->closeStdin(); // all written: EOF is the end of the input
    }

    // Cancel, timeout or too much raw output: the whole tree, SIGTERM now and SIGKILL after
    // the grace. Output is no longer held back: nobody waits for it.
    void stop(Run &run)
    {
        if (run.stopping)
            return;
        run.stopping = true;
        run.child->setStdoutPaused(false);
        run.child->setStderrPaused(false);
        run.child->stop(terminateThenKill(run.spec.cancelGrace));
    }

    void onExit(Run &run, const ExitStatus &status)
    {
        const auto self = shared_from_this();
        std::shared_ptr<Run> keep = m_running[run.id];
        m_running.erase(run.id);
        if (run.timeoutTimer)
            sup().cancelTimer(run.timeoutTimer);
        run.timeoutTimer = 0;
        if (run.wIn)
            sup().unwatch(run.wIn);
        run.wIn = 0;
        run.child.reset();

        std::optional<QString> linesError;
        if (run.sem)
            run.sem->finish(); // in Auto mode this feeds the line scanner its last bytes
        if (run.lines)
            linesError = run.lines->finish();
        updateProgress(run);
        QString returnFileProblem;
        ProgramResult r = resultOf(run, status, &returnFileProblem);
        // A timeout and a flood of raw output are the program's failures even after a cancel;
        // anything else after a cancel is the cancel's doing.
        const bool cancelled = (run.stopRequested || run.task->isCancellationRequested())
            && !run.timedOut && !run.rawOverflow;
        if (cancelled)
            run.task->finishCancelled();
        else if (auto e = exitError(run, r, status, linesError, returnFileProblem))
            run.task->fail(std::move(*e));
        else
            run.task->finish(std::move(r));
        startNext();
        if (m_stopping && m_running.empty() && m_stopped) {
            auto done = std::move(m_stopped); // moved out: set_value may release the runner
            done->set_value();
        }
    }

    // Everything the program left: exit status, result, output tails, return parameters.
    ProgramResult resultOf(Run &run, const ExitStatus &status, QString *returnFileProblem)
    {
        ProgramResult r;
        r.exitCode = status.exitCode;
        r.signal = status.signal;
        r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
            Supervisor::Clock::now() - run.started);
        r.json = run.lines && run.lines->isComplete() ? run.lines->result()
                                                      : QJsonValue(QJsonValue::Undefined);
        r.raw = std::move(run.raw);
        r.semResults = run.semResults;
        r.stdoutText = run.out.tail(run.spec.outputLimit);
        r.stderrText = run.err.tail(run.spec.outputLimit);
        r.droppedStdout = run.out.droppedBytes();
        r.droppedStderr = run.err.droppedBytes();
        if (run.spec.launcher.isLocal()) {
            r.returnParameters = collectReturnFile(run.returnDir, returnFileProblem);
        } else {
            r.returnParameters = status.returnFile;
            *returnFileProblem = status.returnFileProblem;
        }
        return r;
    }

    // Why a program that was not cancelled failed, most telling first; nothing if it did not.
    static std::optional<Error> exitError(const Run &run, const ProgramResult &r,
        const ExitStatus &status, const std::optional<QString> &linesError,
        const QString &returnFileProblem)
    {
        const QString who = QFileInfo(run.spec.program).fileName();
        Error e;
        if (run.timedOut) {
            e.kind = ErrorKind::Timeout;
            e.message = QStringLiteral("%1 exceeded its timeout of %2 ms")
                            .arg(who)
                            .arg(run.spec.timeout.count());
        } else if (run.rawOverflow) {
            e.kind = ErrorKind::Protocol;
            e.message = QStringLiteral(
                "%1 wrote more than the %2 bytes of raw output allowed (ProgramSpec::rawLimit)")
                            .arg(who)
                            .arg(run.spec.rawLimit);
        } else if (status.failure) { // the launcher's: the host, the connection, the program
            e = *status.failure;
        } else if (r.signal != 0) {
            e.kind = ErrorKind::Crash;
            e.signal = r.signal;
            e.message = QStringLiteral("%1 was killed by signal %2 (%3)")
                            .arg(who)
                            .arg(r.signal)
                            .arg(QString::fromLocal8Bit(::strsignal(r.signal)));
        } else if (r.exitCode != 0) {
            e.kind = ErrorKind::ExitCode;
            e.exitCode = r.exitCode;
            e.message = QStringLiteral("%1 exited with code %2").arg(who).arg(r.exitCode);
        } else if (linesError) {
            e.kind = ErrorKind::Protocol;
            e.message = QStringLiteral("%1: %2").arg(who, *linesError);
        } else if (!returnFileProblem.isEmpty()) {
            e.kind = ErrorKind::Protocol;
            e.message = QStringLiteral("%1: %2").arg(who, returnFileProblem);
        } else {
            return std::nullopt;
        }
        e.origin = run.spec.program;
        if (!run.err.tail(1).isEmpty() || e.stderrTail.isEmpty())
            e.stderrTail = run.err.tail(4096); // else the launcher's own words stay
        e.partial = QVariant::fromValue(r);
        return e;
    }

    // At most twice a second while anything runs: RSS and CPU time of each main process into
    // its task, for the monitor (never on the output path).
    void sampleProcesses()
    {
        m_sampleTimer = 0;
        if (m_running.empty())
            return;
        for (auto &[id, run] : m_running)
            if (run->child)
                run->task->setProcessInfo(run->child->sample());
        m_sampleTimer = sup().addTimer(std::chrono::milliseconds(500),
            [self = shared_from_this()] { self->sampleProcesses(); });
    }

    std::deque<std::shared_ptr<Run>> m_queue;
    std::map<quint64, std::shared_ptr<Run>> m_running;
    uint64_t m_sampleTimer = 0;
    bool m_stopping = false;
    std::shared_ptr<std::promise<void>> m_stopped;
};

} // namespace detail

using namespace detail;

ProgramRunner::ProgramRunner(int maxParallel)
    : d(std::make_shared<RunnerImpl>(
        maxParallel > 0 ? maxParallel : std::max(1, QThread::idealThreadCount())))
{
    Supervisor::instance().post(removeStaleReturnDirs); // not on the caller's (GUI) thread
}

ProgramRunner::~ProgramRunner()
{
    d->accepting = false;
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    Supervisor::instance().post([impl = d, done] { impl->shutdown(done); });
    future.wait_for(std::chrono::seconds(30)); // bounded: grace periods, then SIGKILL
}

int ProgramRunner::maxParallel() const
{
    return d->maxParallel;
}

TaskHandle<ProgramResult> ProgramRunner::run(QObject *context, ProgramSpec spec)
{
    auto run = std::make_shared<Run>();
    run->id = d->nextId.fetch_add(1);
    if (spec.stdinFd >= 0) // ours from here on: the caller may close theirs at once
        spec.stdinFd = ::fcntl(spec.stdinFd, F_DUPFD_CLOEXEC, 3);
    const QString name = spec.name.isEmpty() ? QFileInfo(spec.program).fileName() : spec.name;
    run->spec = std::move(spec);
    run->task.emplace(context, QStringLiteral("program"), name);
    auto handle = run->task->handle();
    submitToSupervisor(d, std::move(run));
    return handle;
}

} // namespace offload
