#include "slurmprocess_p.h"

#include "returnfile_p.h"

#include <offload/process/shellquote.h>

#include <QDateTime>
#include <QDir>
#include <QFile>
#include <QSet>
#include <QSysInfo>

#include <csignal>

#include <unistd.h>

namespace offload::detail {

namespace {
constexpr std::chrono::milliseconds tailInterval { 500 }; // reading a batch job's files
constexpr qint64 maxReadPerTick = qint64(4) << 20;

bool isFinalState(const QByteArray &state)
{
    return !state.isEmpty() && state != "PENDING" && state != "RUNNING" && state != "CONFIGURING"
        && state != "COMPLETING" && state != "SUSPENDED" && state != "REQUEUED"
        && state != "RESIZING" && state != "STAGE_OUT" && state != "SIGNALING"
        && state != "STOPPED";
}

QString outputDirectory(const SlurmTarget &t)
{
    return t.outputDirectory.isEmpty() ? QDir::homePath() + QStringLiteral("/.cache/offload/slurm")
                                       : t.outputDirectory;
}

// The files of a batch job: "<job name>@<this host>.out" and so on. The host tells whose
// they are when several machines (of different clusters) share the directory.
QString jobFile(const QString &dir, const QByteArray &jobName, const char *suffix)
{
    return dir + QLatin1Char('/') + QString::fromLatin1(jobName) + QLatin1Char('@')
        + QSysInfo::machineHostName() + QLatin1Char('.') + QLatin1String(suffix);
}

// The note a run reads to know that it sees its caller's return-parameter directory.
const char sharedNote[] = ".offload-shared";

// Removes a run's return-parameter directory: the note, what the program wrote, the
// directory (left if anything else is in it).
void removeReturnDir(const QString &path)
{
    if (QFileInfo(path).isSymLink()) // replaced: the link goes, nothing where it points
        return void(QFile::remove(path));
    QDir d(path);
    d.remove(QLatin1String(sharedNote));
    d.remove(QStringLiteral("returnparameters.txt"));
    QDir().rmdir(path);
}

// A batch job's files and a run's return-parameter directory outlive an application that
// crashed (its guard cancels the job but cannot remove them). Once per directory and process:
// what this host made for jobs that Slurm no longer lists and that no one wrote to for a day
// is removed. A day, because
// a running application reads its job's files to their end only after the job has left.
void sweepStaleFiles(const QString &dir)
{
    static QSet<QString> swept;
    if (swept.contains(dir))
        return;
    swept.insert(dir);
    slurm::runCommand({ QStringLiteral("squeue"), QStringLiteral("-h"), QStringLiteral("-t"),
                          QStringLiteral("all"), QStringLiteral("-u"), QString::number(::getuid()),
                          QStringLiteral("-o"), QStringLiteral("%j") },
        [dir](int code, const QByteArray &out, const QByteArray &) {
            if (code != 0)
                return; // without Slurm's word nothing is known to be stale
            QSet<QString> listed;
            for (const QByteArray &name : out.split('\n'))
                listed.insert(QString::fromUtf8(name.trimmed()));
            const QDateTime dayAgo = QDateTime::currentDateTimeUtc().addDays(-1);
            const QString ours = QLatin1Char('@') + QSysInfo::machineHostName();
            const QFileInfoList files = QDir(dir).entryInfoList(
                { QStringLiteral("offload-*") + ours + QStringLiteral(".out"),
                    QStringLiteral("offload-*") + ours + QStringLiteral(".err"),
                    QStringLiteral("offload-*") + ours + QStringLiteral(".sh") },
                QDir::Files | QDir::System | QDir::Hidden);
            for (const QFileInfo &f : files) {
                const QString job = f.completeBaseName().chopped(ours.size());
                if (!listed.contains(job) && f.lastModified() < dayAgo)
                    QFile::remove(f.absoluteFilePath());
            }
            const QFileInfoList dirs = QDir(dir).entryInfoList(
                { QStringLiteral("offload-*") + ours + QStringLiteral(".rp") },
                QDir::Dirs | QDir::NoSymLinks | QDir::Hidden);
            for (const QFileInfo &f : dirs) {
                const QString job = f.completeBaseName().chopped(ours.size());
                if (!listed.contains(job) && f.lastModified() < dayAgo)
                    removeReturnDir(f.absoluteFilePath());
            }
        });
}
} // namespace

std::unique_ptr<Process> SlurmProcess::start(
    const SlurmTarget &target, SpawnRequest request, Handlers handlers, Error *error)
{
    std::unique_ptr<SlurmProcess> p(new SlurmProcess);
    if (!p->prepare(request, std::move(handlers), error))
        return nullptr;
    const auto fail = [&](ErrorKind kind, const QString &why) -> std::unique_ptr<Process> {
        *error = Error { kind,
            QStringLiteral("cannot run '%1' with Slurm: %2").arg(request.program, why),
            request.program };
        return nullptr;
    };
    p->m_target = target;
    p->m_jobName = "offload-" + p->m_run.nonce;
    if (target.batch) {
        if (request.pipeStdin || request.stdinFd >= 0)
            return fail(ErrorKind::InvalidInput,
                QStringLiteral("a batch job reads no input; run it as an srun step (slurm:)"));
        const QString dir = outputDirectory(target);
        if (!QDir().mkpath(dir)
            || !QFile::setPermissions(
                dir, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner))
            return fail(ErrorKind::Launch,
                QStringLiteral("cannot create the directory for job output %1").arg(dir));
        sweepStaleFiles(dir);
        p->m_outFile = jobFile(dir, p->m_jobName, "out");
        p->m_errFile = jobFile(dir, p->m_jobName, "err");
        p->m_scriptFile = jobFile(dir, p->m_jobName, "sh");
        p->offerReturnDirectory();
        p->submitBatch();
    } else {
        p->m_streams->setClientLinePrefix("srun: ");
        p->offerReturnDirectory();
        if (!p->openStdin(request, error) || !p->startStep(error))
            return nullptr;
    }
    ProcessTree::guardJob(p->m_jobName, true); // cancelled if the application dies
    SlurmProcess *self = p.get();
    p->m_queueWatch = slurm::Queue::instance().watch(p->m_jobName, target.pollInterval,
        [self, weak = std::weak_ptr<int>(p->m_alive)](const slurm::JobInfo *job) {
            if (weak.lock())
                self->onQueue(job);
        });
    return p;
}

SlurmProcess::~SlurmProcess()
{
    m_alive.reset();
    if (m_tailTimer)
        m_sup.cancelTimer(m_tailTimer);
    if (m_queueWatch)
        slurm::Queue::instance().unwatch(m_queueWatch);
    if (!m_reported) // given up while it waits or runs: the job goes too
        slurm::runCommand(
            { QStringLiteral("scancel"), QStringLiteral("-s"), QStringLiteral("KILL"),
                QStringLiteral("--full"), QStringLiteral("-n"), QString::fromLatin1(m_jobName) },
            [](int, const QByteArray &, const QByteArray &) {});
    m_client.reset();
    if (!m_submissionLost)
        ProcessTree::guardJob(m_jobName, false);
    for (const QString &f : { m_outFile, m_errFile, m_scriptFile })
        if (!f.isEmpty())
            QFile::remove(f);
    removeReturnDirectory();
}

// A return-parameter directory of ours, in the output directory (shared with the nodes on
// most clusters, and where batch jobs need it anyway), offered to the run: one that sees it
// has its program write there, and nothing is copied over the job's stderr. Without it (it
// cannot be made) the file comes the other way.
void SlurmProcess::offerReturnDirectory()
{
    if (m_run.returnFilePlaceholder.isEmpty())
        return;
    const QString dir = outputDirectory(m_target);
    const QString path = jobFile(dir, m_jobName, "rp");
    if (!QDir().mkpath(dir)) // its permissions are the user's (the directory below is private)
        return;
    sweepStaleFiles(dir);
    if (!QDir().mkdir(path)
        || !QFile::setPermissions(
            path, QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner))
        return;
    m_returnDir = path;
    QFile note(path + QLatin1Char('/') + QLatin1String(sharedNote));
    if (!note.open(QIODevice::WriteOnly | QIODevice::NewOnly) || note.write(m_run.nonce + '\n') < 0
        || !note.flush())
        return removeReturnDirectory();
    m_run.sharedReturnDirectory = QFile::encodeName(path);
}

void SlurmProcess::removeReturnDirectory()
{
    if (!m_returnDir.isEmpty())
        removeReturnDir(m_returnDir);
    m_returnDir.clear();
    m_run.sharedReturnDirectory.clear();
}

bool SlurmProcess::startStep(Error *error)
{
    SpawnRequest req;
    req.program = QStringLiteral("srun");
    // One task on one node, in a job of its own even when this application runs inside an
    // allocation (whose SLURM_ variables would make srun a step of it).
    for (const QByteArray &entry : Environment::inherited().toList()) {
        const QByteArray name = entry.left(entry.indexOf('='));
        // The job's own (its id, size, nodes), not srun's input options (SLURM_PARTITION,
        // SLURM_TIMELIMIT, ... stay).
        static const char *const jobVariables[] = { "SLURM_NTASKS", "SLURM_NPROCS", "SLURM_NNODES",
            "SLURM_NODELIST", "SLURM_TASKS_PER_NODE", "SLURM_CPUS_ON_NODE" };
        bool ofTheJob = name.startsWith("SLURM_JOB") || name.startsWith("SLURM_STEP");
        for (const char *v : jobVariables)
            ofTheJob = ofTheJob || name == v;
        if (ofTheJob)
            req.environment.remove(name);
    }
    QStringList args { QStringLiteral("-u"), QStringLiteral("--ntasks=1"),
        QStringLiteral("--nodes=1"),
        QStringLiteral("--job-name=") + QString::fromLatin1(m_jobName) };
    if (!m_target.partition.isEmpty())
        args << QStringLiteral("--partition=") + m_target.partition;
    args += m_target.options;
    args << QStringLiteral("--");
    req.arguments = toArguments(args) + ssh::runArguments(m_run);
    return startClient(std::move(req), error);
}

void SlurmProcess::submitBatch()
{
    QStringList args { QStringLiteral("sbatch"), QStringLiteral("--parsable"),
        QStringLiteral("--job-name=") + QString::fromLatin1(m_jobName),
        // Requeued, a job would run again into truncated files: Offload reports its failure.
        QStringLiteral("--no-requeue"), QStringLiteral("--ntasks=1"),
        QStringLiteral("--output=")
            + QString(m_outFile).replace(QLatin1Char('%'), QStringLiteral("%%")),
        QStringLiteral("--error=")
            + QString(m_errFile).replace(QLatin1Char('%'), QStringLiteral("%%")) };
    if (!m_target.partition.isEmpty())
        args << QStringLiteral("--partition=") + m_target.partition;
    args += m_target.options;
    // The job's script in a file, not --wrap: sbatch takes its options as text, and an
    // argument need not be UTF-8. sbatch sends the script's bytes to the controller.
    QFile script(m_scriptFile);
    QByteArray text
        = "#!/bin/sh\n" + shellQuote(QByteArrayList { "exec" } + ssh::runArguments(m_run)) + '\n';
    // sbatch refuses a script with a CR LF in it ("DOS line breaks"). One can only come from
    // an argument, inside its single quotes: ending and reopening the quote between the two
    // bytes keeps the word as it is.
    text.replace("\r\n", "\r''\n");
    if (!script.open(QIODevice::WriteOnly | QIODevice::NewOnly, QFileDevice::ReadOwner)
        || script.write(text) != text.size() || !script.flush()) {
        ExitStatus s;
        s.failure = remoteError(ErrorKind::Launch, RemoteFailure::None,
            QStringLiteral("cannot write the job's script %1: %2")
                .arg(m_scriptFile, script.errorString()));
        return finishLater(s);
    }
    script.close();
    args << QStringLiteral("--") << m_scriptFile;
    slurm::runCommand(args,
        [this, weak = std::weak_ptr<int>(m_alive)](
            int code, const QByteArray &out, const QByteArray &err) {
            if (weak.lock())
                onSubmitted(code, out, err);
        });
}

void SlurmProcess::onSubmitted(int code, const QByteArray &out, const QByteArray &err)
{
    QFile::remove(m_scriptFile); // the controller has its copy
    if (code != 0) {
        if (code < 0) {
            // sbatch did not answer in time, and the controller may take its request later
            // still: the job name is cancelled now and twice more, and stays with the guard.
            m_submissionLost = true;
            const QStringList cancel { QStringLiteral("scancel"),
                QStringLiteral("--name=") + QString::fromLatin1(m_jobName) };
            slurm::runCommand(cancel, [](int, const QByteArray &, const QByteArray &) {});
            for (auto after : { std::chrono::seconds(10), std::chrono::seconds(60) })
                m_sup.addTimer(after, [cancel] {
                    slurm::runCommand(cancel, [](int, const QByteArray &, const QByteArray &) {});
                });
        }
        ExitStatus s;
        const QByteArray said = err.trimmed().isEmpty() ? out.trimmed() : err.trimmed();
        s.failure = remoteError(ErrorKind::Launch, RemoteFailure::None,
            QStringLiteral("sbatch refused the job: %1")
                .arg(said.isEmpty() ? QStringLiteral("exit code %1").arg(code)
                                    : QString::fromLocal8Bit(said.right(1000))));
        return finishLater(s);
    }
    m_jobId = out.trimmed().split(';').value(0); // "ID" or "ID;CLUSTER"
    if (m_stopping) { // cancelled while it was being submitted: out of the queue, and over
        signalJob(SIGKILL);
        m_gone = true;
        return readFiles();
    }
    m_tailTimer = m_sup.addTimer(tailInterval, [this, weak = std::weak_ptr<int>(m_alive)] {
        if (!weak.lock())
            return;
        m_tailTimer = 0;
        readFiles();
    });
}

// A batch job's output, from its files (on storage that the node and this machine share).
void SlurmProcess::readFiles()
{
    const std::weak_ptr<int> weak = m_alive;
    // One chunk of a file from its offset; true if there was any.
    const auto tail = [&](const QString &path, qint64 &offset, bool err) {
        if (err ? m_errPaused : m_outPaused)
            return false;
        QFile f(path);
        if (!f.open(QIODevice::ReadOnly) || !f.seek(offset))
            return false;
        const QByteArray bytes = f.read(maxReadPerTick);
        if (bytes.isEmpty())
            return false;
        offset += bytes.size();
        if (err)
            m_streams->stderrData(bytes.constData(), size_t(bytes.size()));
        else
            m_streams->stdoutData(bytes.constData(), size_t(bytes.size()));
        return true;
    };
    // Ended: the exit marker is in (the wrapper writes it last), or the job left the queue.
    // Then both files are read to their ends before it is concluded.
    const bool ending = m_streams->exitStatus() || m_gone;
    bool more = true;
    for (int round = 0; more && round < (ending ? 64 : 1); ++round) {
        more = tail(m_errFile, m_errOffset, true);
        if (!weak.lock())
            return;
        more = tail(m_outFile, m_outOffset, false) || more;
        if (!weak.lock())
            return;
    }
    afterOutput();
    if (!weak.lock() || m_finished)
        return;
    const bool paused = m_outPaused || m_errPaused;
    if ((m_streams->exitStatus() || m_gone) && !more && !paused)
        return finish();
    m_tailTimer = m_sup.addTimer(more ? std::chrono::milliseconds(0) : tailInterval, [this, weak] {
        if (!weak.lock())
            return;
        m_tailTimer = 0;
        readFiles();
    });
}

void SlurmProcess::onQueue(const slurm::JobInfo *job)
{
    if (!job) {
        if (m_target.batch && !m_jobId.isEmpty())
            m_gone = true; // readFiles() concludes
        return;
    }
    m_jobId = job->id;
    if (!job->node.isEmpty() && job->state != "PENDING")
        m_node = job->node;
    if (job->state == "PENDING") {
        if (m_handlers.pending)
            m_handlers.pending(job->reason);
        return;
    }
    if (m_target.batch && isFinalState(job->state))
        m_gone = true; // the files are read to the end, then it is concluded
}

void SlurmProcess::onLocated()
{
    m_jobId = m_jobId.isEmpty() ? m_streams->job() : m_jobId;
    m_node = QString::fromLocal8Bit(m_streams->node());
}

// srun ended here: its job is cancelled first (a killed srun leaves its allocation behind).
void SlurmProcess::endClientHere()
{
    slurm::runCommand(
        { QStringLiteral("scancel"), QStringLiteral("--name=") + QString::fromLatin1(m_jobName) },
        [](int, const QByteArray &, const QByteArray &) {});
    WrappedProcess::endClientHere();
}

void SlurmProcess::onClientExit(const ExitStatus &)
{
    m_client.reset(); // reaped already; allowed from its exit handler
    finish();
}

// The job is over: how it ended, asking scontrol when neither the wrapper nor slurmstepd
// said.
void SlurmProcess::finish()
{
    if (m_finished)
        return;
    m_finished = true;
    stopTimers();
    if (m_tailTimer)
        m_sup.cancelTimer(m_tailTimer);
    m_tailTimer = 0;
    if (m_stopSequence)
        m_stopSequence->cancel();
    const bool told = m_streams->exitStatus() || !m_streams->refusal().isEmpty()
        || slurm::failureFromNotice(m_streams->prelude() + m_streams->stderrTail())
            != RemoteFailure::None;
    if (told || m_jobId.isEmpty())
        return conclude({});
    slurm::runCommand(
        { QStringLiteral("scontrol"), QStringLiteral("show"), QStringLiteral("job"),
            QString::fromLatin1(m_jobId) },
        [this, weak = std::weak_ptr<int>(m_alive)](int, const QByteArray &out, const QByteArray &) {
            if (weak.lock())
                conclude(slurm::stateFromScontrol(out));
        },
        std::chrono::seconds(10));
}

QString SlurmProcess::jobName() const
{
    return m_jobId.isEmpty() ? QStringLiteral("the Slurm job")
                             : QStringLiteral("Slurm job %1").arg(QString::fromLatin1(m_jobId));
}

void SlurmProcess::conclude(const QByteArray &finalState)
{
    const WrapperStreams &w = *m_streams;
    const QString job = jobName();
    // Slurm's reason counts when the program did not end by itself: no exit reported, or an
    // exit by a signal (the wrapper passes on the program's death by Slurm's SIGTERM/KILL).
    const bool signalled = w.exitStatus() && *w.exitStatus() > 128;
    RemoteFailure why = RemoteFailure::None;
    if (!w.exitStatus() || signalled)
        why = slurm::failureFromNotice(w.prelude() + w.stderrTail());
    if (why == RemoteFailure::None && !w.exitStatus())
        why = slurm::failureFromState(finalState);
    if (why == RemoteFailure::CancelledElsewhere && m_cancelSent)
        why = RemoteFailure::None; // our own cancel
    ExitStatus out;
    if (why != RemoteFailure::None) {
        static const QMap<RemoteFailure, QString> what {
            { RemoteFailure::TimeLimit, QStringLiteral("%1 reached its time limit") },
            { RemoteFailure::NodeFailure, QStringLiteral("%1 failed with its node") },
            { RemoteFailure::Preempted, QStringLiteral("%1 was preempted") },
            { RemoteFailure::OutOfMemory, QStringLiteral("%1 ran out of memory") },
            { RemoteFailure::CancelledElsewhere,
                QStringLiteral("%1 was cancelled outside the application (scancel)") },
        };
        out.failure = remoteError(slurm::kindOf(why), why, what.value(why).arg(job));
    } else if (auto verdict = wrapperVerdict(m_node.isEmpty() ? job : m_node)) {
        out = std::move(*verdict);
        const QByteArray st = w.exitStatus() && !m_run.returnFilePlaceholder.isEmpty()
            ? w.fileStatus()
            : QByteArray();
        if (st == "shared" && !m_returnDir.isEmpty()) {
            // Written here, by the program over there: read as a local run's (never a FIFO
            // or a link, bounded), and the directory goes.
            QFile::remove(m_returnDir + QLatin1Char('/') + QLatin1String(sharedNote));
            QByteArray dir = QFile::encodeName(m_returnDir);
            QString problem;
            out.returnFile = collectReturnFile(dir, &problem);
            out.returnFileProblem = problem;
            m_returnDir.clear();
        } else if (st == "ok")
            out.returnFile = w.file();
        else if (st == "toolarge")
            out.returnFileProblem = QStringLiteral("the return-parameter file is over 16 MiB");
        else if (st == "notregular")
            out.returnFileProblem = QStringLiteral(
                "the return-parameter file is not a regular file (a FIFO, a symbolic link)");
    } else if (m_cancelSent || m_stopping) {
        out.signal = m_killSent || !m_lastSignal ? SIGKILL : m_lastSignal;
    } else {
        // srun or the job ended without the wrapper's word: srun's own, if it said anything.
        QString said;
        const QList<QByteArray> lines = (w.prelude() + w.stderrTail()).trimmed().split('\n');
        for (auto it = lines.rbegin(); it != lines.rend() && said.isEmpty(); ++it)
            if (it->startsWith("srun:") || it->startsWith("sbatch:") || it->contains("slurmstepd"))
                said = QString::fromLocal8Bit(it->trimmed());
        out.failure
            = remoteError(w.started() ? ErrorKind::Remote : ErrorKind::Launch, RemoteFailure::None,
                QStringLiteral("%1 ended%2 without its program's exit being reported%3")
                    .arg(job,
                        finalState.isEmpty()
                            ? QString()
                            : QStringLiteral(" (%1)").arg(QString::fromLatin1(finalState)),
                        said.isEmpty() ? QString() : QStringLiteral(": ") + said));
    }
    report(std::move(out));
}

void SlurmProcess::beforeReport()
{
    if (m_queueWatch)
        slurm::Queue::instance().unwatch(m_queueWatch);
    m_queueWatch = 0;
    if (m_tailTimer)
        m_sup.cancelTimer(m_tailTimer);
    m_tailTimer = 0;
}

ProcessInfo SlurmProcess::sample() const
{
    ProcessInfo info;
    info.pid = m_streams->pid();
    if (const auto u = m_jobId.isEmpty() ? std::nullopt : slurm::Queue::instance().usage(m_jobId)) {
        info.rssBytes = u->rssBytes;
        info.cpuSeconds = u->cpuSeconds;
    }
    info.location = m_jobId.isEmpty()
        ? Launcher::slurm(m_target).toString()
        : QStringLiteral("slurm job %1%2")
              .arg(QString::fromLatin1(m_jobId),
                  m_node.isEmpty() ? QString() : QStringLiteral(" on ") + m_node);
    return info;
}

void SlurmProcess::stop(StopPolicy policy)
{
    if (m_finished)
        return;
    m_stopping = true;
    if (m_target.batch && m_jobId.isEmpty())
        return; // still being submitted: cancelled the moment it is (onSubmitted)
    if (!m_stopSequence)
        m_stopSequence = std::make_unique<StopSequence>(StopSequence::Actions {
            [this](int signal) { signalJob(signal); }, [this] { killJob(); } });
    m_stopSequence->start(std::move(policy));
}

void SlurmProcess::signalJob(int signal)
{
    m_cancelSent = true;
    m_lastSignal = signal;
    QStringList args { QStringLiteral("scancel") };
    // A job that has not started is simply taken out of the queue; a running one gets the
    // signal in every process (--full: the batch script's too).
    if (m_located)
        args << QStringLiteral("--signal=%1").arg(signal) << QStringLiteral("--full");
    args << QStringLiteral("--name=") + QString::fromLatin1(m_jobName);
    slurm::runCommand(args, [](int, const QByteArray &, const QByteArray &) {});
    if (m_target.batch && !m_located)
        m_gone = true; // nothing ran; readFiles() concludes
}

void SlurmProcess::killJob()
{
    m_killSent = true;
    signalJob(SIGKILL);
    endClientSoon();
    if (m_target.batch) // the queue is slow to tell: the job's end is looked up now
        m_gone = true;
}

} // namespace offload::detail
