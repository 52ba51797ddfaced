// ProgramRunner: a queue of program runs whose I/O runs on the supervisor thread.
#include <offload/process/programrunner.h>
#include <offload/process/progresslinescanner.h>
#include <offload/process/semtagscanner.h>

#include "io_p.h"
#include "logring_p.h"
#include "procstat_p.h"
#include "spawn_p.h"
#include "supervisor_p.h"

#include <QDir>
#include <QFile>
#include <QFileInfo>
#include <QThread>

#include <csignal>
#include <deque>
#include <future>
#include <map>

#include <poll.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <unistd.h>

namespace offload {
namespace detail {

using RunCore = TaskResultCore<ProgramResult>;

struct Run
{
    quint64 id = 0;
    ProgramSpec spec;
    std::shared_ptr<RunCore> core;
    pid_t pid = -1;
    int pidfd = -1, inFd = -1, outFd = -1, errFd = -1;
    uint64_t wPid = 0, wIn = 0, wOut = 0, wErr = 0;
    qsizetype stdinOffset = 0;
    std::unique_ptr<SemTagScanner> sem;
    std::unique_ptr<ProgressLineScanner> lines;
    LogRing out{1 << 20}, err{1 << 20};
    QByteArray raw;
    qint64 rawDropped = 0;
    QMap<QString, QString> semResults;
    Supervisor::Clock::time_point started;
    uint64_t timeoutTimer = 0, killTimer = 0;
    bool stopping = false; // cancel or timeout: no more progress, the group is being killed
    bool timedOut = false;
    quint64 semGen = 0, linesGen = 0;
    QByteArray returnDir; // private temporary directory for the return-parameter file
};

QByteArray returnFilePath(const Run &run) { return run.returnDir + "/returnparameters.txt"; }

// Reads the return-parameter file (bounded) and removes the private directory.
std::optional<QByteArray> collectReturnFile(Run &run)
{
    if (run.returnDir.isEmpty())
        return std::nullopt;
    std::optional<QByteArray> text;
    const QByteArray path = returnFilePath(run);
    QFile file(QString::fromLocal8Bit(path));
    if (file.open(QIODevice::ReadOnly))
        text = file.read(16 << 20);
    file.close();
    ::unlink(path.constData());
    ::rmdir(run.returnDir.constData()); // fails if the program left more files: they stay, as its own
    run.returnDir.clear();
    return text;
}

// Creates the 0700 directory and puts its file into the arguments; false with errno on failure.
bool prepareReturnFile(Run &run, QStringList &arguments)
{
    QByteArray pattern = QFile::encodeName(QDir::tempPath()) + "/offload-return-XXXXXX";
    if (!::mkdtemp(pattern.data())) // mkdtemp creates the directory with mode 0700
        return false;
    run.returnDir = pattern;
    const QString file = QFile::decodeName(returnFilePath(run));
    bool placed = false;
    for (QString &arg : arguments) {
        if (arg == QLatin1String(ProgramSpec::returnParameterFilePlaceholder)) {
            arg = file;
            placed = true;
        }
    }
    if (!placed)
        arguments << QStringLiteral("--returnparameterfile") << file;
    return true;
}

class RunnerImpl : public std::enable_shared_from_this<RunnerImpl>
{
public:
    explicit RunnerImpl(int max) : maxParallel(max) {}
    const int maxParallel;
    std::atomic<bool> accepting{true};
    std::atomic<quint64> nextId{1};

    void enqueue(std::shared_ptr<Run> run)
    {
        if (isFinalState(run->core->state()))
            return;
        if (m_stopping)
            return void(run->core->requestCancel());
        m_queue.push_back(std::move(run));
        startNext();
    }

    void cancel(quint64 id)
    {
        for (auto it = m_queue.begin(); it != m_queue.end(); ++it) {
            if ((*it)->id == id) {
                auto run = *it;
                m_queue.erase(it);
                run->core->finishCancelled();
                return;
            }
        }
        if (auto it = m_running.find(id); it != m_running.end())
            stop(*it->second);
    }

    void shutdown(std::shared_ptr<std::promise<void>> done)
    {
        m_stopping = true;
        while (!m_queue.empty()) {
            m_queue.front()->core->finishCancelled();
            m_queue.pop_front();
        }
        for (auto &[id, run] : m_running) {
            run->core->requestCancel();
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
            if (!isFinalState(run->core->state()))
                start(run);
        }
    }

    void start(const std::shared_ptr<Run> &run)
    {
        ProgramSpec &s = run->spec;
        if (!run->core->markStarting())
            return;
        SpawnRequest req;
        req.program = s.program;
        req.arguments = s.arguments;
        req.environment = s.environment;
        if (!req.environment.contains(QStringLiteral("PYTHONUNBUFFERED")))
            req.environment.insert(QStringLiteral("PYTHONUNBUFFERED"), QStringLiteral("1"));
        req.workingDirectory = s.workingDirectory;
        req.niceness = s.niceness;
        req.pipeStdin = !s.stdinData.isEmpty() || s.progress == ProgressFormat::Raw;
        if (s.returnParameterFile && !prepareReturnFile(*run, req.arguments)) {
            run->core->fail(Error{ErrorKind::Launch, QStringLiteral("cannot create a private directory for the return parameters in %1: %2")
                                                         .arg(QDir::tempPath(), QString::fromLocal8Bit(::strerror(errno)))});
            return;
        }
        Spawned sp;
        run->started = Supervisor::Clock::now();
        if (auto error = spawnProcess(req, sp)) {
            collectReturnFile(*run);
            run->core->fail(*error);
            return;
        }
        run->pid = sp.pid;
        run->pidfd = sp.pidfd;
        run->inFd = sp.stdinFd;
        run->outFd = sp.stdoutFd;
        run->errFd = sp.stderrFd;
        run->out = LogRing(s.outputLimit);
        run->err = LogRing(s.outputLimit);
        setUpScanners(*run);
        run->core->markRunning();
        run->core->setProcessInfo(ProcessInfo{sp.pid, -1, -1});
        m_running.emplace(run->id, run);
        if (!m_sampleTimer)
            m_sampleTimer = sup().addTimer(std::chrono::milliseconds(500), [self = shared_from_this()] { self->sampleProcesses(); });
        auto self = shared_from_this();
        Run *r = run.get();
        run->wOut = sup().watch(run->outFd, EPOLLIN, [self, r](uint32_t) { self->readStdout(*r); });
        run->wErr = sup().watch(run->errFd, EPOLLIN, [self, r](uint32_t) { self->readStderr(*r); });
        run->wPid = sup().watch(run->pidfd, EPOLLIN, [self, r](uint32_t) { self->onExit(*r); });
        if (run->inFd >= 0) {
            run->wIn = sup().watch(run->inFd, EPOLLOUT, [self, r](uint32_t) { self->writeStdin(*r); });
            writeStdin(*run);
        }
        if (s.timeout.count() > 0) {
            run->timeoutTimer = sup().addTimer(s.timeout, [self, r] {
                r->timeoutTimer = 0;
                r->timedOut = true;
                self->stop(*r);
            });
        }
    }

    void setUpScanners(Run &run)
    {
        const auto text = [&run](const QByteArray &bytes) {
            run.out.append(bytes.constData(), bytes.size());
            run.core->appendOutput(OutputChunk::Stdout, bytes);
        };
        const auto result = [&run](const QString &n, const QString &v) { run.semResults.insert(n, v); };
        switch (run.spec.progress) {
        case ProgressFormat::Sem:
            run.sem = std::make_unique<SemTagScanner>(text, result);
            break;
        case ProgressFormat::Lines:
            run.lines = std::make_unique<ProgressLineScanner>(text);
            break;
        case ProgressFormat::Auto: // tags out first, then PROGRESS lines out of what is left
            run.lines = std::make_unique<ProgressLineScanner>(text);
            run.sem = std::make_unique<SemTagScanner>([&run](const QByteArray &t) { run.lines->feed(t); }, result);
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
                stage = Stage{sp.name, 0, 1};
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
        run.core->updateProgress([&](Progress &p) {
            if (fraction) {
                p.minimum = 0;
                p.maximum = 1'000'000;
                p.value = qint64(*fraction * 1'000'000);
            }
            if (text)
                p.text = *text;
            if (stage)
                p.stage = *stage;
        });
    }

    void readStdout(Run &run)
    {
        const auto result = readAvailable(run.outFd, [&](const char *buf, ssize_t n) {
            switch (run.spec.progress) {
            case ProgressFormat::Sem:
            case ProgressFormat::Auto: run.sem->feed(buf, n); break;
            case ProgressFormat::Lines: run.lines->feed(buf, n); break;
            case ProgressFormat::Raw:
                if (run.raw.size() + n <= run.spec.rawLimit)
                    run.raw.append(buf, n);
                else
                    run.rawDropped += n;
                break;
            case ProgressFormat::None:
                run.out.append(buf, n);
                run.core->appendOutput(OutputChunk::Stdout, QByteArray(buf, n));
                break;
            }
            updateProgress(run);
            return true;
        });
        if (result == ReadResult::Eof)
            unwatch(run.wOut);
    }

    void readStderr(Run &run)
    {
        const auto result = readAvailable(run.errFd, [&](const char *buf, ssize_t n) {
            run.err.append(buf, n);
            run.core->appendOutput(OutputChunk::Stderr, QByteArray(buf, n));
            return true;
        });
        if (result == ReadResult::Eof)
            unwatch(run.wErr);
    }

    void unwatch(uint64_t &token)
    {
        if (token)
            sup().unwatch(token);
        token = 0;
    }

    void writeStdin(Run &run)
    {
        const QByteArray &data = run.spec.stdinData;
        while (run.stdinOffset < data.size()) {
            const ssize_t n = ::write(run.inFd, data.constData() + run.stdinOffset, size_t(data.size() - run.stdinOffset));
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
        unwatch(run.wIn);
        ::close(run.inFd); // all written: EOF is the end of the input
        run.inFd = -1;
    }

    // Cancel or timeout: the whole process group, SIGTERM now and SIGKILL after the grace.
    void stop(Run &run)
    {
        if (run.stopping)
            return;
        run.stopping = true;
        signalGroup(run.pid, SIGTERM);
        run.killTimer = sup().addTimer(run.spec.cancelGrace, [self = shared_from_this(), r = &run] {
            r->killTimer = 0;
            signalGroup(r->pid, SIGKILL);
        });
    }

    void drainPipes(Run &run)
    {
        for (int i = 0; i < 64; ++i) { // bounded: grandchildren are dead, pipes hold what is left
            pollfd fds[2] = {{run.wOut ? run.outFd : -1, POLLIN, 0}, {run.wErr ? run.errFd : -1, POLLIN, 0}};
            if (::poll(fds, 2, 0) <= 0)
                return;
            if (fds[0].revents)
                readStdout(run);
            if (fds[1].revents)
                readStderr(run);
        }
    }

    void onExit(Run &run)
    {
        // The main process has exited (a zombie still, so its group id stays valid): whatever
        // is left of its group goes now, then it is reaped.
        signalGroup(run.pid, SIGKILL);
        siginfo_t info{};
        if (::waitid(P_PIDFD, id_t(run.pidfd), &info, WEXITED) != 0)
            return;
        drainPipes(run);
        const auto self = shared_from_this();
        std::shared_ptr<Run> keep = m_running[run.id];
        m_running.erase(run.id);
        for (uint64_t *t : {&run.timeoutTimer, &run.killTimer})
            if (*t)
                sup().cancelTimer(*t);
        for (uint64_t *w : {&run.wPid, &run.wIn, &run.wOut, &run.wErr})
            unwatch(*w);
        for (int fd : {run.pidfd, run.inFd, run.outFd, run.errFd})
            if (fd >= 0)
                ::close(fd);

        std::optional<QString> linesError;
        if (run.sem)
            run.sem->finish(); // in Auto mode this feeds the line scanner its last bytes
        if (run.lines)
            linesError = run.lines->finish();
        updateProgress(run);

        ProgramResult r;
        const bool signalled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
        r.exitCode = signalled ? -1 : info.si_status;
        r.signal = signalled ? info.si_status : 0;
        r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Supervisor::Clock::now() - run.started);
        r.json = run.lines && run.lines->isComplete() ? run.lines->result() : QJsonValue(QJsonValue::Undefined);
        r.raw = std::move(run.raw);
        r.semResults = run.semResults;
        r.stdoutText = run.out.tail(run.spec.outputLimit);
        r.stderrText = run.err.tail(run.spec.outputLimit);
        r.droppedStdout = run.out.droppedBytes() + run.rawDropped;
        r.droppedStderr = run.err.droppedBytes();
        r.returnParameters = collectReturnFile(run);

        auto &core = *run.core;
        Error e;
        e.origin = run.spec.program;
        e.stderrTail = run.err.tail(4096);
        e.partial = QVariant::fromValue(r);
        const QString who = QFileInfo(run.spec.program).fileName();
        if (run.timedOut) {
            e.kind = ErrorKind::Timeout;
            e.message = QStringLiteral("%1 exceeded its timeout of %2 ms").arg(who).arg(run.spec.timeout.count());
            core.fail(e);
        } else if (core.isCancellationRequested()) {
            core.finishCancelled();
        } else if (signalled) {
            e.kind = ErrorKind::Crash;
            e.signal = r.signal;
            e.message = QStringLiteral("%1 was killed by signal %2 (%3)").arg(who).arg(r.signal).arg(QString::fromLocal8Bit(::strsignal(r.signal)));
            core.fail(e);
        } else if (r.exitCode != 0) {
            e.kind = ErrorKind::ExitCode;
            e.exitCode = r.exitCode;
            e.message = QStringLiteral("%1 exited with code %2").arg(who).arg(r.exitCode);
            core.fail(e);
        } else if (linesError) {
            e.kind = ErrorKind::Protocol;
            e.message = QStringLiteral("%1: %2").arg(who, *linesError);
            core.fail(e);
        } else {
            core.finishWith(std::move(r));
        }
        startNext();
        if (m_stopping && m_running.empty() && m_stopped) {
            auto done = std::move(m_stopped); // moved out: set_value may release the runner
            done->set_value();
        }
    }

    // At most twice a second while anything runs: RSS and CPU time of each main process into
    // its task, for the monitor (never on the output path).
    void sampleProcesses()
    {
        m_sampleTimer = 0;
        if (m_running.empty())
            return;
        for (auto &[id, run] : m_running)
            run->core->setProcessInfo(sampleProcess(run->pid));
        m_sampleTimer = sup().addTimer(std::chrono::milliseconds(500), [self = shared_from_this()] { self->sampleProcesses(); });
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
    : d(std::make_shared<RunnerImpl>(maxParallel > 0 ? maxParallel : std::max(1, QThread::idealThreadCount())))
{
}

ProgramRunner::~ProgramRunner()
{
    d->accepting = false;
    auto done = std::make_shared<std::promise<void>>();
    auto future = done->get_future();
    Supervisor::instance().post([impl = d, done] { impl->shutdown(done); });
    future.wait_for(std::chrono::seconds(30)); // bounded: grace periods, then SIGKILL
}

int ProgramRunner::maxParallel() const { return d->maxParallel; }

TaskHandle<ProgramResult> ProgramRunner::run(QObject *context, ProgramSpec spec)
{
    auto run = std::make_shared<Run>();
    run->id = d->nextId.fetch_add(1);
    const QString name = spec.name.isEmpty() ? QFileInfo(spec.program).fileName() : spec.name;
    run->spec = std::move(spec);
    run->core = std::make_shared<RunCore>(context, QStringLiteral("program"), name);
    run->core->attach();
    TaskHandle<ProgramResult> handle(run->core);
    if (!d->accepting) {
        run->core->requestCancel();
        return handle;
    }
    run->core->setCancelHandler([weak = std::weak_ptr<RunnerImpl>(d), id = run->id] {
        if (auto impl = weak.lock())
            Supervisor::instance().post([impl, id] { impl->cancel(id); });
    });
    Supervisor::instance().post([impl = d, run] { impl->enqueue(run); });
    return handle;
}

} // namespace offload
