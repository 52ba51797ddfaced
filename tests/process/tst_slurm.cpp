// Program runs and worker pools through the Slurm launcher (srun steps and sbatch jobs),
// against the testbed's one-node cluster (scripts/testbed up; OFFLOAD_TEST_SLURM=1). The
// jobs run as this user, on this machine: what they leave behind is visible here.
#include <offload/process/launcher.h>
#include <offload/process/programrunner.h>
#include <offload/process/workerpool.h>

#include "../common/testsupport.h"
#include "processtestsupport.h"
#include "remotetestsupport.h"

#include <QDateTime>
#include <QDir>
#include <QFileInfo>
#include <QJsonObject>
#include <QSysInfo>
#include <QTemporaryDir>
#include <QTemporaryFile>
#include <QTest>

#include <csignal>

#include <fcntl.h>
#include <sys/wait.h>

#include <unistd.h>

using namespace offload;
using namespace std::chrono_literals;

// Processes that a Slurm job started (they have SLURM_JOB_ID), whose command line holds
// needle: what a test leaves behind, whatever else runs on the machine.
static int jobProcesses(const QByteArray &needle = {})
{
    int n = 0;
    for (qint64 pid : processesOf(::getuid())) {
        QFile cmd(QStringLiteral("/proc/%1/cmdline").arg(pid));
        QFile env(QStringLiteral("/proc/%1/environ").arg(pid));
        if (cmd.open(QIODevice::ReadOnly) && cmd.readAll().contains(needle)
            && env.open(QIODevice::ReadOnly) && env.readAll().contains("SLURM_JOB_ID="))
            ++n;
    }
    return n;
}

class tst_Slurm : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanupTestCase();
    void parsesPlaces();
    void stepAndBatchRunsComeBack();
    void missingProgramAndBadPartitionAreLaunchErrors();
    void returnParameterFilesComeBack();
    void batchFilesGoAndStaleOnesAreSwept();
    void cancelLeavesNothingBehind();
    void memoryAndCpuTimeOfRunningJobs();
    void pendingJobIsQueuedWithTheReason();
    void cancelledElsewhereIsItsOwnError();
    void workerPoolRunsAsSteps();
    void jobsGoWithAKilledApplication();
    void timeLimitIsATimeout();
    void nodeFailureIsItsOwnError(); // last: it takes the node down and back

private:
    SlurmTarget target(bool batch = false) const;
    // Slurm's own view of a job by name: its state, or "" when squeue does not list it.
    QByteArray stateOf(const QByteArray &namePart);
    QByteArray command(const QStringList &argv);

    bool m_enabled = false;
    std::unique_ptr<ProgramRunner> m_longRunner;
    TaskHandle<ProgramResult> m_overTime; // started first: Slurm enforces limits each minute
};

// QSKIP ends the test function it is written in, not a helper it is called from: without the
// testbed, a helper's skip let each test go on against nothing (tst_slurm then ran into the
// test-function timeout).
#define REQUIRE_TESTBED()                                                                          \
    do {                                                                                           \
        if (!m_enabled)                                                                            \
            QSKIP("no Slurm testbed: OFFLOAD_TEST_SLURM is not 1 (scripts/testbed up sets it; "    \
                  "scripts/test runs it where it can)");                                           \
    } while (false)

void tst_Slurm::initTestCase()
{
    m_enabled = qEnvironmentVariable("OFFLOAD_TEST_SLURM") == QLatin1String("1");
    if (!m_enabled)
        return;
    m_longRunner = std::make_unique<ProgramRunner>(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sleep");
    spec.arguments = { "3999" };
    SlurmTarget t = target();
    t.options << QStringLiteral("--time=1"); // one minute, the smallest limit Slurm keeps
    spec.launcher = Launcher::slurm(t);
    m_overTime = m_longRunner->run(this, spec);
}

void tst_Slurm::cleanupTestCase()
{
    if (!m_enabled)
        return;
    m_longRunner.reset();
    // Nothing of the tests' jobs is left, in the queue or as a process.
    QTRY_VERIFY_WITH_TIMEOUT(!command({ QStringLiteral("squeue"), QStringLiteral("-h"),
                                          QStringLiteral("-o"), QStringLiteral("%j %T") })
                                  .contains("offload-"),
        30000);
    QTRY_COMPARE_WITH_TIMEOUT(jobProcesses(), 0, 30000);
}

SlurmTarget tst_Slurm::target(bool batch) const
{
    SlurmTarget t;
    t.partition = qEnvironmentVariable("OFFLOAD_TEST_SLURM_PARTITION", QStringLiteral("debug"));
    t.batch = batch;
    t.pollInterval = 1s;
    return t;
}

QByteArray tst_Slurm::command(const QStringList &argv)
{
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = argv.first();
    spec.arguments = toArguments(argv.mid(1));
    spec.progress = ProgressFormat::None;
    auto t = runner.run(this, spec);
    // Not QTRY: it gives up at once after a failed check, and cleanups run after those too.
    if (!t.waitForFinished(30s))
        qWarning("'%s' did not finish within 30 s", qPrintable(argv.join(QLatin1Char(' '))));
    return t.state() == TaskState::Finished ? t.result().stdoutText : QByteArray();
}

QByteArray tst_Slurm::stateOf(const QByteArray &namePart)
{
    const QByteArray out
        = command({ QStringLiteral("squeue"), QStringLiteral("-h"), QStringLiteral("-t"),
            QStringLiteral("all"), QStringLiteral("-o"), QStringLiteral("%j %T") });
    for (const QByteArray &line : out.split('\n'))
        if (line.contains(namePart))
            return line.split(' ').value(1);
    return {};
}

void tst_Slurm::parsesPlaces()
{
    const auto step = Launcher::parse(QStringLiteral("slurm:debug"));
    QVERIFY(step);
    QCOMPARE(step->kind(), Launcher::Kind::Slurm);
    QCOMPARE(step->slurmTarget().partition, QStringLiteral("debug"));
    QVERIFY(!step->slurmTarget().batch);
    QCOMPARE(step->toString(), QStringLiteral("slurm:debug"));
    const auto batch = Launcher::parse(QStringLiteral("sbatch"));
    QVERIFY(batch && batch->slurmTarget().batch && batch->slurmTarget().partition.isEmpty());
    QString error;
    for (const char *bad : { "slurm:", "slurm:a b", "slurm:$(x)", "sbatch:;", "slurmx" }) {
        error.clear();
        QVERIFY2(!Launcher::parse(QString::fromLatin1(bad), &error), bad);
        QVERIFY2(!error.isEmpty(), bad);
    }
}

void tst_Slurm::stepAndBatchRunsComeBack()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(6);
    QList<TaskHandle<ProgramResult>> runs;
    for (bool batch : { false, true }) {
        ProgramSpec spec;
        spec.arguments = { "lines" };
        spec.program = remoteBinary("testprogram", &spec.arguments);
        spec.launcher = Launcher::slurm(target(batch));
        runs << runner.run(this, spec);
        ProgramSpec failing;
        failing.program = QStringLiteral("/bin/sh");
        failing.arguments = { "-c", "echo to-stderr >&2; exit 3" };
        failing.launcher = Launcher::slurm(target(batch));
        runs << runner.run(this, failing);
        ProgramSpec hostile; // every byte of every argument arrives as it was
        hostile.program = QStringLiteral("/usr/bin/printf");
        hostile.arguments = QByteArrayList { "[%s]" } + hostileWords;
        hostile.progress = ProgressFormat::None;
        hostile.launcher = Launcher::slurm(target(batch));
        runs << runner.run(this, hostile);
    }
    for (auto &t : runs)
        QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 60000);
    for (int i : { 2, 5 }) {
        QVERIFY2(runs[i].state() == TaskState::Finished, qPrintable(runs[i].error().message));
        QCOMPARE(runs[i].result().stdoutText, framed(hostileWords));
    }
    for (int i : { 0, 3 }) {
        QCOMPARE(runs[i].state(), TaskState::Finished);
        QCOMPARE(runs[i].result().json.toObject().value(QStringLiteral("answer")).toInt(), 42);
        QCOMPARE(runs[i].result().stdoutText, QByteArray("hello\n"));
        QVERIFY2(runs[i].processInfo().location.startsWith(QStringLiteral("slurm job ")),
            qPrintable(runs[i].processInfo().location));
        QCOMPARE(runs[i].progress().fraction(), 1.0);
    }
    for (int i : { 1, 4 }) {
        QCOMPARE(runs[i].state(), TaskState::Failed);
        QCOMPARE(runs[i].error().kind, ErrorKind::ExitCode);
        QCOMPARE(runs[i].error().exitCode, 3);
        // The program's stderr alone: srun's "srun: error: ... Exited with exit code 3" is
        // the launcher's.
        QCOMPARE(runs[i].error().stderrTail, QByteArray("to-stderr\n"));
    }
}

void tst_Slurm::missingProgramAndBadPartitionAreLaunchErrors()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(4);
    QList<TaskHandle<ProgramResult>> missing, badPartition;
    for (bool batch : { false, true }) {
        ProgramSpec spec;
        spec.program = QStringLiteral("/nonexistent/program");
        spec.launcher = Launcher::slurm(target(batch));
        missing << runner.run(this, spec);
        SlurmTarget bad = target(batch);
        bad.partition = QStringLiteral("nosuchpartition");
        spec.program = QStringLiteral("/bin/true");
        spec.launcher = Launcher::slurm(bad);
        badPartition << runner.run(this, spec);
    }
    for (auto &t : missing + badPartition)
        QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 60000);
    for (auto &t : missing) {
        QCOMPARE(t.state(), TaskState::Failed);
        QCOMPARE(t.error().kind, ErrorKind::Launch);
        QCOMPARE(t.error().remoteFailure, RemoteFailure::ProgramMissing);
    }
    for (auto &t : badPartition) {
        QCOMPARE(t.state(), TaskState::Failed);
        QCOMPARE(t.error().kind, ErrorKind::Launch);
        QVERIFY2(t.error().message.contains(QStringLiteral("artition")),
            qPrintable(t.error().message)); // Slurm's own words
    }
}

// sstat's figures, asked once per query of the queue for every running job, reach the task:
// the testbed gathers job accounting (jobacct_gather/linux) as clusters do.
void tst_Slurm::memoryAndCpuTimeOfRunningJobs()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(2);
    QList<TaskHandle<ProgramResult>> runs;
    for (bool batch : { false, true }) {
        ProgramSpec spec;
        spec.arguments = { "hog", "64" };
        spec.program = remoteBinary("testprogram", &spec.arguments);
        spec.progress = ProgressFormat::None;
        spec.launcher = Launcher::slurm(target(batch));
        runs << runner.run(this, spec);
    }
    for (auto &t : runs) {
        QTRY_VERIFY_WITH_TIMEOUT(t.state() == TaskState::Running || t.isFinal(), 60000);
        QTRY_VERIFY_WITH_TIMEOUT(t.processInfo().rssBytes >= qint64(64) << 20, 30000);
        QTRY_VERIFY_WITH_TIMEOUT(t.processInfo().cpuSeconds > 0, 30000);
        QVERIFY(t.processInfo().rssBytes < qint64(1) << 30); // in bytes, not KiB
        QVERIFY(!t.isFinal());
        t.cancel();
    }
    for (auto &t : runs) {
        QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 60000);
        QCOMPARE(t.state(), TaskState::Cancelled);
    }
}

void tst_Slurm::returnParameterFilesComeBack()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(9);
    QList<TaskHandle<ProgramResult>> written, fifo, chattered;
    // A step and a batch job, which see the application's directory for the file (it is
    // written there), and a step whose output directory cannot be made, as when the nodes do
    // not share it: the file comes over the step's stderr. (srun --uid, to run as a user who
    // cannot see it, fails here whenever the job has to wait for a CPU.)
    QTemporaryFile notADirectory;
    QVERIFY(notADirectory.open());
    enum Mode { Step, Batch, Apart };
    for (Mode mode : { Step, Batch, Apart }) {
        SlurmTarget where = target(mode == Batch);
        if (mode == Apart)
            where.outputDirectory = notADirectory.fileName() + QStringLiteral("/slurm");
        ProgramSpec spec;
        spec.program = QStringLiteral("/bin/sh");
        spec.arguments = { "-c", "printf 'a = 1\\nb = x y\\n' > \"$1\"; sleep 30 & echo done", "sh",
            ProgramSpec::returnParameterFilePlaceholder };
        spec.returnParameterFile = true;
        spec.launcher = Launcher::slurm(where);
        written << runner.run(this, spec);
        spec.arguments
            = { "-c", "mkfifo \"$1\"", "sh", ProgramSpec::returnParameterFilePlaceholder };
        fifo << runner.run(this, spec);
        // A process that left the group talks on stderr without pause: it is gone (Slurm's
        // cgroup of the step holds it) before the file's bytes go the same way.
        spec.arguments = { "-c",
            "setsid sh -c 'while :; do echo junk >&2; done' & "
            "seq 1 30000 | sed 's/.*/k& = &/' > \"$1\"",
            "sh", ProgramSpec::returnParameterFilePlaceholder };
        chattered << runner.run(this, spec);
    }
    for (auto &t : written + fifo + chattered)
        QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 60000);
    QByteArray lines;
    for (int i = 1; i <= 30000; ++i)
        lines += "k" + QByteArray::number(i) + " = " + QByteArray::number(i) + '\n';
    for (auto &t : chattered) {
        QVERIFY2(t.state() == TaskState::Finished, qPrintable(t.error().message));
        QVERIFY2(t.result().returnParameters, t.result().stderrText.right(300).constData());
        QCOMPARE(t.result().returnParameters->size(), lines.size());
        QVERIFY(t.result().returnParameters == lines);
    }
    for (auto &t : written) {
        QVERIFY2(t.state() == TaskState::Finished, qPrintable(t.error().message));
        QCOMPARE(t.result().returnParameters, QByteArray("a = 1\nb = x y\n"));
        QCOMPARE(t.result().stdoutText, QByteArray("done\n"));
    }
    for (auto &t : fifo) {
        QCOMPARE(t.state(), TaskState::Failed);
        QCOMPARE(t.error().kind, ErrorKind::Protocol);
    }
    // Which way each file came: read here (the message names the directory), or sent.
    for (int i : { Step, Batch })
        QVERIFY2(fifo[i].error().message.contains(QStringLiteral("/.cache/offload/slurm/")),
            qPrintable(fifo[i].error().message));
    QVERIFY2(fifo[Apart].error().message.contains(QStringLiteral("(a FIFO, a symbolic link)")),
        qPrintable(fifo[Apart].error().message));
}

void tst_Slurm::batchFilesGoAndStaleOnesAreSwept()
{
    REQUIRE_TESTBED();
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    // Left by an application of this host that crashed days ago (Slurm lists no such job),
    // one written a moment ago, one of another host sharing the directory (its cluster's
    // squeue is not ours), and a file that is not Offload's.
    const QString here = QLatin1Char('@') + QSysInfo::machineHostName();
    const auto make = [&](const QString &name, int daysOld) {
        QFile f(dir.filePath(name));
        QVERIFY(f.open(QIODevice::WriteOnly));
        QVERIFY(f.write("x") == 1 && f.flush()); // written before its time is set
        QVERIFY(f.setFileTime(
            QDateTime::currentDateTimeUtc().addDays(-daysOld), QFileDevice::FileModificationTime));
    };
    make(QStringLiteral("offload-0123stale") + here + QStringLiteral(".out"), 2);
    make(QStringLiteral("offload-0123stale") + here + QStringLiteral(".err"), 2);
    make(QStringLiteral("offload-0456stale") + here + QStringLiteral(".sh"), 3);
    make(QStringLiteral("offload-0789fresh") + here + QStringLiteral(".out"), 0);
    make(QStringLiteral("offload-0abcother@elsewhere.out"), 5);
    make(QStringLiteral("unrelated.out"), 5);
    SlurmTarget t = target(true);
    t.outputDirectory = dir.path();
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/echo");
    spec.arguments = { "hi" };
    spec.launcher = Launcher::slurm(t);
    auto run = runner.run(this, spec);
    QTRY_VERIFY_WITH_TIMEOUT(run.isFinal(), 60000);
    QCOMPARE(run.state(), TaskState::Finished);
    QCOMPARE(run.result().stdoutText, QByteArray("hi\n"));
    // The job's own files went with it; the stale ones were swept.
    QTRY_COMPARE_WITH_TIMEOUT(QDir(dir.path()).entryList(QDir::Files, QDir::Name),
        QStringList({ QStringLiteral("offload-0789fresh") + here + QStringLiteral(".out"),
            QStringLiteral("offload-0abcother@elsewhere.out"), QStringLiteral("unrelated.out") }),
        10000);
}

void tst_Slurm::cancelLeavesNothingBehind()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(2);
    QList<TaskHandle<ProgramResult>> runs;
    for (bool batch : { false, true }) {
        ProgramSpec spec;
        spec.program = QStringLiteral("/bin/sh");
        // A child, a grandchild, and one that left the group with setsid; all quiet.
        spec.arguments = { "-c",
            batch ? "sleep 337 & sh -c 'sleep 338' & setsid sleep 339 & wait"
                  : "sleep 334 & sh -c 'sleep 335' & setsid sleep 336 & wait" };
        spec.progress = ProgressFormat::None;
        spec.cancelGrace = 500ms;
        spec.launcher = Launcher::slurm(target(batch));
        runs << runner.run(this, spec);
    }
    QTRY_VERIFY_WITH_TIMEOUT(countMatching(::getuid(), "sleep 33") >= 6, 60000);
    QTRY_VERIFY_WITH_TIMEOUT(
        runs[0].state() == TaskState::Running && runs[1].state() == TaskState::Running, 30000);
    for (auto &t : runs)
        t.cancel();
    for (auto &t : runs) {
        QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 60000);
        QCOMPARE(t.state(), TaskState::Cancelled);
    }
    QTRY_COMPARE_WITH_TIMEOUT(countMatching(::getuid(), "sleep 33"), 0, 20000);
}

void tst_Slurm::pendingJobIsQueuedWithTheReason()
{
    REQUIRE_TESTBED();
    // Every idle CPU of the node taken by jobs of someone else's (for this test: plain
    // sbatch). sinfo's %C is allocated/idle/other/total.
    const int cpus = command({ QStringLiteral("sinfo"), QStringLiteral("-h"), QStringLiteral("-o"),
                                 QStringLiteral("%C") })
                         .trimmed()
                         .split('/')
                         .value(1)
                         .toInt();
    QVERIFY(cpus > 0);
    ProgramRunner runner(2); // before the guard below: stopped after the blockers went
    QList<QByteArray> blockers;
    for (int i = 0; i < cpus; ++i)
        blockers << command(
            { QStringLiteral("sbatch"), QStringLiteral("--parsable"),
                QStringLiteral("--job-name=blocker"), QStringLiteral("--output=/dev/null"),
                QStringLiteral("--wrap=exec sleep 341") })
                        .trimmed();
    const auto unblock = qScopeGuard([&] {
        command(QStringList { QStringLiteral("scancel") } + [&] {
            QStringList ids;
            for (const QByteArray &b : blockers)
                ids << QString::fromLatin1(b);
            return ids;
        }());
    });
    QTRY_COMPARE_WITH_TIMEOUT(countMatching(::getuid(), "sleep 341"), cpus, 30000);

    QList<TaskHandle<ProgramResult>> waiting;
    for (bool batch : { false, true }) {
        ProgramSpec spec;
        spec.program = QStringLiteral("/bin/true");
        spec.launcher = Launcher::slurm(target(batch));
        waiting << runner.run(this, spec);
    }
    for (auto &t : waiting) {
        // Resources for the first, Priority (behind the first) for the other.
        QTRY_VERIFY_WITH_TIMEOUT(
            t.progress().text.startsWith(QStringLiteral("waiting in Slurm's queue (")), 30000);
        QCOMPARE(t.state(), TaskState::Queued);
        t.cancel();
    }
    for (auto &t : waiting) {
        QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 30000);
        QCOMPARE(t.state(), TaskState::Cancelled);
    }
    // Out of the queue: they never ran.
    QTRY_VERIFY_WITH_TIMEOUT(
        [&] {
            const QByteArray q
                = command({ QStringLiteral("squeue"), QStringLiteral("-h"), QStringLiteral("-t"),
                    QStringLiteral("pending"), QStringLiteral("-o"), QStringLiteral("%j") });
            return !q.contains("offload-");
        }(),
        30000);
}

void tst_Slurm::cancelledElsewhereIsItsOwnError()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(2);
    QList<TaskHandle<ProgramResult>> runs;
    for (bool batch : { false, true }) {
        ProgramSpec spec;
        spec.program = QStringLiteral("/bin/sleep");
        spec.arguments = { batch ? "343" : "342" };
        spec.launcher = Launcher::slurm(target(batch));
        runs << runner.run(this, spec);
    }
    QTRY_VERIFY_WITH_TIMEOUT(
        runs[0].state() == TaskState::Running && runs[1].state() == TaskState::Running, 60000);
    // Someone runs scancel from a shell, for these two jobs ("slurm job N on NODE").
    for (auto &t : runs) {
        const QString job = t.processInfo().location.section(QLatin1Char(' '), 2, 2);
        QVERIFY2(!job.isEmpty(), qPrintable(t.processInfo().location));
        command({ QStringLiteral("scancel"), job });
    }
    for (auto &t : runs) {
        QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 60000);
        QCOMPARE(t.state(), TaskState::Failed);
        QCOMPARE(remoteFailureName(t.error().remoteFailure),
            remoteFailureName(RemoteFailure::CancelledElsewhere));
    }
}

void tst_Slurm::workerPoolRunsAsSteps()
{
    REQUIRE_TESTBED();
    WorkerPoolSpec spec;
    spec.program = remoteBinary("testworker", &spec.arguments);
    spec.maxWorkers = 1;
    spec.cancelGrace = 500ms;
    spec.launcher = Launcher::slurm(target());
    WorkerPool pool(spec);
    auto add = pool.submit(this, QStringLiteral("add"), QJsonObject { { "a", 2 }, { "b", 3 } });
    auto echo = pool.submit(
        this, QStringLiteral("echo"), QJsonValue(QStringLiteral("x")), QByteArray(1 << 20, 'p'));
    QTRY_VERIFY_WITH_TIMEOUT(add.isFinal() && echo.isFinal(), 60000);
    QCOMPARE(add.state(), TaskState::Finished);
    QCOMPARE(add.result().value.toDouble(), 5.0);
    QCOMPARE(echo.result().payload, QByteArray(1 << 20, 'p'));
    auto stubborn = pool.submit(this, QStringLiteral("stubborn"), QJsonObject { { "ms", 60000 } });
    QTRY_VERIFY_WITH_TIMEOUT(stubborn.state() == TaskState::Running, 30000);
    stubborn.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(stubborn.isFinal(), 30000);
    QCOMPARE(stubborn.state(), TaskState::Cancelled);
    pool.shutdown();
    // No worker of a job is left (other tests may run local workers meanwhile).
    QTRY_COMPARE_WITH_TIMEOUT(jobProcesses("testworker"), 0, 20000);

    WorkerPoolSpec batch = spec;
    batch.launcher = Launcher::slurm(target(true));
    WorkerPool refused(batch);
    auto call = refused.submit(this, QStringLiteral("add"));
    QTRY_VERIFY_WITH_TIMEOUT(call.isFinal(), 30000);
    QCOMPARE(call.state(), TaskState::Failed);
    QCOMPARE(call.error().kind, ErrorKind::InvalidInput);
}

void tst_Slurm::jobsGoWithAKilledApplication()
{
    REQUIRE_TESTBED();
    if (!QFileInfo::exists(binPath("offload")))
        QSKIP("the offload tool is not built (OFFLOAD_BUILD_APPS=OFF)");
    // Started by hand, not through a runner: a runner would kill the tool's whole tree with
    // it, its guard process included, which is what would clean up after it.
    QList<pid_t> tools;
    for (const char *place : { "slurm", "sbatch" }) {
        const QByteArray tool = QFile::encodeName(binPath("offload"));
        const QByteArray seconds = place == QByteArray("slurm") ? "346" : "347";
        const char *argv[] = { tool.constData(), "run", "--on", place, "--", "/bin/sleep",
            seconds.constData(), nullptr };
        const pid_t pid = ::fork();
        if (pid == 0) {
            const int null = ::open("/dev/null", O_RDWR);
            ::dup2(null, 0);
            ::dup2(null, 1);
            ::dup2(null, 2);
            ::execv(argv[0], const_cast<char **>(argv));
            ::_exit(127);
        }
        QVERIFY(pid > 0);
        tools << pid;
    }
    // Both jobs run (the sleep itself, not only command lines that name it).
    const auto sleeping = [](const char *n) {
        int count = 0;
        for (qint64 pid : processesOf(::getuid())) {
            QFile comm(QStringLiteral("/proc/%1/comm").arg(pid));
            QFile cmd(QStringLiteral("/proc/%1/cmdline").arg(pid));
            if (comm.open(QIODevice::ReadOnly) && comm.readAll().trimmed() == "sleep"
                && cmd.open(QIODevice::ReadOnly) && cmd.readAll().contains(n))
                ++count;
        }
        return count;
    };
    QTRY_VERIFY_WITH_TIMEOUT(sleeping("346") == 1 && sleeping("347") == 1, 60000);
    // The application dies at once, with no chance to clean up.
    for (pid_t pid : tools) {
        QVERIFY(::kill(pid, SIGKILL) == 0);
        QCOMPARE(::waitpid(pid, nullptr, 0), pid); // SIGKILL: prompt
    }
    QTRY_VERIFY_WITH_TIMEOUT(sleeping("346") == 0 && sleeping("347") == 0, 30000);
    // (cleanupTestCase checks that no job of the tests is left in the queue.)
}

void tst_Slurm::timeLimitIsATimeout()
{
    REQUIRE_TESTBED();
    // Started in initTestCase with a limit of one minute; Slurm looks every 30 s or so.
    QTRY_VERIFY_WITH_TIMEOUT(m_overTime.isFinal(), 150000);
    QCOMPARE(m_overTime.state(), TaskState::Failed);
    QVERIFY2(m_overTime.error().kind == ErrorKind::Timeout,
        qPrintable(m_overTime.error().summary() + QLatin1Char('\n')
            + QString::fromLocal8Bit(m_overTime.error().stderrTail)));
    QCOMPARE(m_overTime.error().remoteFailure, RemoteFailure::TimeLimit);
}

void tst_Slurm::nodeFailureIsItsOwnError()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sleep");
    spec.arguments = { "344" };
    spec.launcher = Launcher::slurm(target());
    auto t = runner.run(this, spec);
    QTRY_VERIFY_WITH_TIMEOUT(t.state() == TaskState::Running, 60000);
    const QByteArray node = t.processInfo().location.section(QLatin1Char(' '), -1).toLatin1();
    QVERIFY(!node.isEmpty());
    const auto resume = qScopeGuard([&] {
        command({ QStringLiteral("scontrol"), QStringLiteral("update"),
            QStringLiteral("nodename=") + QString::fromLatin1(node),
            QStringLiteral("state=resume") });
        QTRY_VERIFY_WITH_TIMEOUT(command({ QStringLiteral("sinfo"), QStringLiteral("-h"),
                                             QStringLiteral("-o"), QStringLiteral("%T") })
                                     .trimmed()
                                     .startsWith("idle"),
            30000);
    });
    // The node goes down under the job, as when it fails.
    command({ QStringLiteral("scontrol"), QStringLiteral("update"),
        QStringLiteral("nodename=") + QString::fromLatin1(node), QStringLiteral("state=down"),
        QStringLiteral("reason=offload-test") });
    QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 60000);
    QCOMPARE(t.state(), TaskState::Failed);
    QCOMPARE(
        remoteFailureName(t.error().remoteFailure), remoteFailureName(RemoteFailure::NodeFailure));
    // A node taken down may leave its job's processes to slurmd's own pace: they go.
    QTRY_COMPARE_WITH_TIMEOUT(jobProcesses("sleep 344"), 0, 30000);
}

QTEST_GUILESS_MAIN(tst_Slurm)
#include "tst_slurm.moc"
