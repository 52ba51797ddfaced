// Specification of the promises kept at the edges: no output lost, no process left behind, no
// thread frozen by a hostile file, no call hung by a worker that stops talking, no innocent
// call failed, a restart limit that is a rate. Each case names the defect it pins down.
#include <offload/process/programrunner.h>
#include <offload/process/workerpool.h>

#include "../common/testsupport.h"
#include "processtestsupport.h"

#include <QDir>
#include <QJsonObject>
#include <QProcess>
#include <QRandomGenerator>
#include <QTemporaryDir>
#include <QTest>
#include <QTimer>

#include <csignal>
#include <set>

#include <sys/wait.h>
#include <unistd.h>

using namespace offload;
using namespace std::chrono_literals;

namespace {
ProgramSpec program(const QByteArrayList &args, ProgressFormat format = ProgressFormat::None)
{
    return testProgramSpec(args, format);
}

QJsonObject obj(std::initializer_list<QPair<QString, QJsonValue>> fields)
{
    QJsonObject o;
    for (const auto &[k, v] : fields)
        o.insert(k, v);
    return o;
}

// The pids a program printed as "escaped PID" lines.
QList<qint64> escapedPids(const QByteArray &output)
{
    QList<qint64> pids;
    for (const QByteArray &line : output.split('\n'))
        if (line.startsWith("escaped "))
            pids << line.mid(8).toLongLong();
    return pids;
}

// 1 + 2 on a test worker: a call that must simply work.
TaskHandle<WorkerResult> submitAdd(WorkerPool &pool, QObject *context)
{
    return pool.submit(context, QStringLiteral("add"),
        obj({ { QStringLiteral("a"), 1 }, { QStringLiteral("b"), 2 } }));
}

bool allGone(const QList<qint64> &pids)
{
    for (qint64 pid : pids)
        if (processExists(pid))
            return false;
    return true;
}

// The guard process of an application: its child whose command line names offload-guard.
qint64 guardOf(qint64 application)
{
    for (const QString &entry : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        QFile stat(QStringLiteral("/proc/%1/stat").arg(entry));
        QFile cmdline(QStringLiteral("/proc/%1/cmdline").arg(entry));
        if (!stat.open(QIODevice::ReadOnly) || !cmdline.open(QIODevice::ReadOnly))
            continue;
        const QByteArray s = stat.readAll();
        const QList<QByteArray> f = s.mid(s.lastIndexOf(')') + 2).split(' ');
        if (f.size() > 1 && f[0] != "Z" && f[1].toLongLong() == application
            && cmdline.readAll().contains("offload-guard"))
            return entry.toLongLong();
    }
    return -1;
}

qint64 deadPid()
{
    QProcess p;
    p.start(QStringLiteral("/bin/true"), {});
    p.waitForFinished(10000);
    return p.processId() > 0 ? p.processId() : 999999;
}

QStringList ourReturnDirs()
{
    return QDir(QDir::tempPath())
        .entryList(
            { QStringLiteral("offload-return-%1-*").arg(QCoreApplication::applicationPid()) },
            QDir::Dirs);
}
} // namespace

class tst_Reliability : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    // Output
    void everyByteReachesASlowConsumerInOrder();
    void rawOutputOverItsLimitFailsInsteadOfTruncating();
    // Files a program may have replaced
    void hostileReturnParameterFileFailsTheRunWithoutBlocking_data();
    void hostileReturnParameterFileFailsTheRunWithoutBlocking();
    void staleReturnDirectoriesOfDeadProcessesAreRemoved();
    // The whole tree
    void cancelKillsADescendantThatCalledSetsid();
    void exitOfTheMainProcessKillsADescendantThatCalledSetsid();
    void anotherProgramsCgroupNamedLikeOursIsLeftAlone();
    void staleCgroupsWithNestedOnesAreRemoved();
    void applicationKilledWithSigkillTakesEveryDescendantWithIt_data();
    void applicationKilledWithSigkillTakesEveryDescendantWithIt();
    // Workers
    void workerThatClosesItsChannelButLivesFailsItsCall_data();
    void workerThatClosesItsChannelButLivesFailsItsCall();
    void cancellingOneCallRequeuesTheInnocentCallOnItsWorker();
    void restartLimitRecoversWhenItsWindowHasPassed();
    void workerLeavingCleanlyAfterAnsweringIsNotAFailure();
    void workersKilledAfterAnsweringDoNotBreakThePool();
    void garbageInsteadOfHelloFailsTheCallAfterTwoStarts();
    void largeCallsAndAnswersPassOnBothChannels_data();
    void largeCallsAndAnswersPassOnBothChannels();
    void fractionalCallIdIsAProtocolError();
    void workerWideLogLinesReachTheCallsOutput();
    void heartbeatFailsACallWhoseWorkerIsWedged();
    // Everything at once
    void soakKillingWorkersAndProgramsAtRandomLeavesNothingBehind();
};

void tst_Reliability::everyByteReachesASlowConsumerInOrder()
{
    // 24 MiB through a consumer that takes its time with each chunk: the runner must stop
    // reading the pipe while the consumer is behind instead of dropping the oldest output.
    ProgramRunner runner;
    QObject context;
    qint64 received = 0;
    bool allX = true;
    auto run = runner.run(&context, program({ "flood", "24" }));
    run.onOutput([&](const OutputChunk &c) {
        received += c.data.size();
        allX = allX && c.data.count('x') == c.data.size();
        QThread::usleep(2000); // a consumer slower than the program, not a synchronisation
    });
    bool ended = false;
    run.onFinished([&](const auto &) { ended = true; });
    QTRY_VERIFY_WITH_TIMEOUT(ended, 120000);
    QCOMPARE(run.state(), TaskState::Finished);
    QCOMPARE(received, qint64(24) << 20);
    QVERIFY(allX);
    QCOMPARE(run.droppedOutputBytes(), 0);
}

void tst_Reliability::rawOutputOverItsLimitFailsInsteadOfTruncating()
{
    ProgramRunner runner;
    QObject context;
    ProgramSpec spec = program({ "flood", "3" }, ProgressFormat::Raw);
    spec.rawLimit = 1 << 20;
    auto run = runner.run(&context, spec);
    QVERIFY(run.waitForFinished(30s));
    QCOMPARE(run.state(), TaskState::Failed);
    QCOMPARE(run.error().kind, ErrorKind::Protocol);
    QVERIFY2(run.error().message.contains(QStringLiteral("raw output")),
        qPrintable(run.error().message));
}

void tst_Reliability::hostileReturnParameterFileFailsTheRunWithoutBlocking_data()
{
    QTest::addColumn<QByteArray>("how");
    QTest::addColumn<QString>("reason");
    QTest::newRow("fifo") << QByteArray("fifo") << QStringLiteral("FIFO");
    QTest::newRow("symlink") << QByteArray("symlink") << QStringLiteral("symbolic link");
    QTest::newRow("over 16 MiB") << QByteArray("big") << QStringLiteral("more than");
    QTest::newRow("directory swapped for a link")
        << QByteArray("dirswap") << QStringLiteral("replaced");
}

void tst_Reliability::hostileReturnParameterFileFailsTheRunWithoutBlocking()
{
    QFETCH(QByteArray, how);
    QFETCH(QString, reason);
    ProgramRunner runner;
    QObject context;
    ProgramSpec spec = program({ "return", how });
    spec.returnParameterFile = true;
    auto run = runner.run(&context, spec);
    QVERIFY2(run.waitForFinished(20s),
        "reading the return-parameter file blocked the supervisor thread");
    QCOMPARE(run.state(), TaskState::Failed);
    QCOMPARE(run.error().kind, ErrorKind::Protocol);
    QVERIFY2(run.error().message.contains(reason), qPrintable(run.error().message));
    QVERIFY(run.error().partial.canConvert<ProgramResult>()); // what it produced is kept
    const QByteArray out = run.error().partial.value<ProgramResult>().stdoutText;
    if (out.startsWith("victim ")) { // the file the link led to was neither read nor removed
        const QString victim = QFile::decodeName(out.mid(7).trimmed());
        QVERIFY(QFile::exists(victim + QStringLiteral("/returnparameters.txt")));
        QVERIFY(QDir(victim).removeRecursively());
    }
    QVERIFY(ourReturnDirs().isEmpty()); // and our directory (or what replaced it) is gone
    // The supervisor thread still serves every other run.
    auto next = runner.run(&context, program({ "lines" }, ProgressFormat::Lines));
    QVERIFY(next.waitForFinished(20s));
    QCOMPARE(next.state(), TaskState::Finished);
}

void tst_Reliability::staleReturnDirectoriesOfDeadProcessesAreRemoved()
{
    const qint64 dead = deadPid();
    QDir tmp(QDir::tempPath());
    const QString stale = QStringLiteral("offload-return-%1-Abc123").arg(dead);
    QVERIFY(tmp.mkpath(stale));
    QFile file(tmp.filePath(stale + QStringLiteral("/returnparameters.txt")));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write("left = behind\n");
    file.close();
    ProgramRunner runner;
    QObject context;
    ProgramSpec spec = program({ "lines" }, ProgressFormat::Lines);
    spec.returnParameterFile = true;
    auto run = runner.run(&context, spec);
    QVERIFY(run.waitForFinished(20s));
    QVERIFY2(!tmp.exists(stale), "the directory of a process that is gone was left behind");
}

void tst_Reliability::cancelKillsADescendantThatCalledSetsid()
{
    ProgramRunner runner;
    QObject context;
    QByteArray output;
    auto run = runner.run(&context, program({ "escape" }));
    run.onOutput([&](const OutputChunk &c) { output += c.data; });
    QTRY_VERIFY_WITH_TIMEOUT(!escapedPids(output).isEmpty(), 10000);
    const QList<qint64> pids = escapedPids(output);
    QVERIFY(processExists(pids.first()));
    run.cancel();
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.state(), TaskState::Cancelled);
    QTRY_VERIFY2_WITH_TIMEOUT(
        allGone(pids), "a descendant that called setsid() outlived the cancel", 5000);
}

void tst_Reliability::exitOfTheMainProcessKillsADescendantThatCalledSetsid()
{
    ProgramRunner runner;
    QObject context;
    QByteArray output;
    auto run = runner.run(&context, program({ "escape", "200" }));
    run.onOutput([&](const OutputChunk &c) { output += c.data; });
    bool ended = false;
    run.onFinished([&](const auto &) { ended = true; });
    QTRY_VERIFY_WITH_TIMEOUT(ended, 20000);
    QCOMPARE(run.state(), TaskState::Finished);
    const QList<qint64> pids = escapedPids(output);
    QCOMPARE(pids.size(), 1);
    QTRY_VERIFY2_WITH_TIMEOUT(allGone(pids), "a descendant outlived its program", 5000);
}

// This process's cgroup v2 directory if this user may make cgroups there, else empty.
static QString writableOwnCgroup()
{
    QFile self(QStringLiteral("/proc/self/cgroup")), mounts(QStringLiteral("/proc/self/mountinfo"));
    if (!self.open(QIODevice::ReadOnly) || !mounts.open(QIODevice::ReadOnly))
        return {};
    QByteArray relative;
    for (const QByteArray &line : self.readAll().split('\n'))
        if (line.startsWith("0::"))
            relative = line.mid(3);
    for (const QByteArray &line : mounts.readAll().split('\n')) {
        const qsizetype dash = line.indexOf(" - ");
        const QByteArrayList f = line.left(dash).split(' ');
        if (dash > 0 && line.mid(dash + 3).startsWith("cgroup2 ") && f.size() > 4 && f[3] == "/") {
            const QString dir
                = QFile::decodeName(f[4] + (relative == "/" ? QByteArray() : relative));
            return ::access(
                       QFile::encodeName(dir + QStringLiteral("/cgroup.procs")).constData(), W_OK)
                    == 0
                ? dir
                : QString();
        }
    }
    return {};
}

void tst_Reliability::anotherProgramsCgroupNamedLikeOursIsLeftAlone()
{
    // Stale cgroups of dead Offload processes are removed at start; one that merely shares
    // the prefix (not offload-<pid>, or not laid out as ours) belongs to someone else.
    const QString own = writableOwnCgroup();
    if (own.isEmpty())
        QSKIP("no writable cgroup v2 here");
    const QString foreign = own + QStringLiteral("/offload-mydaemon");
    QVERIFY(QDir().mkpath(foreign));
    QProcess daemon;
    daemon.start(QStringLiteral("/bin/sh"),
        { QStringLiteral("-c"),
            QStringLiteral("echo $$ > '%1/cgroup.procs' && echo in && exec sleep 60")
                .arg(foreign) });
    QVERIFY(daemon.waitForStarted(10000));
    QByteArray said;
    QTRY_VERIFY_WITH_TIMEOUT((said += daemon.readAllStandardOutput()).contains("in"), 10000);
    QProcess tool; // a fresh Offload process, which looks for stale cgroups when it starts
    tool.start(binPath("offload"),
        { QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("/bin/true") });
    QVERIFY(tool.waitForFinished(20000));
    QCOMPARE(tool.exitCode(), 0);
    const bool survived = processExists(daemon.processId()) && QDir(foreign).exists();
    daemon.kill();
    daemon.waitForFinished(10000);
    QTRY_VERIFY_WITH_TIMEOUT(QDir().rmdir(foreign) || !QDir(foreign).exists(), 10000);
    QVERIFY2(survived, "Offload killed another program's cgroup that only shared its prefix");
}

void tst_Reliability::staleCgroupsWithNestedOnesAreRemoved()
{
    // An Offload application run by another (a tool, a module that uses Offload) has its
    // cgroup inside one of its parent's; killed together, neither guard removed anything.
    const QString own = writableOwnCgroup();
    if (own.isEmpty())
        QSKIP("no writable cgroup v2 here");
    const auto deadPid = [](qint64 from) {
        while (QFile::exists(QStringLiteral("/proc/%1").arg(from)))
            ++from;
        return from;
    };
    const qint64 parent = deadPid(3999000), nested = deadPid(parent + 1);
    const QString top = own + QStringLiteral("/offload-%1").arg(parent);
    const QString deepest = top + QStringLiteral("/c3/offload-%1/c0").arg(nested);
    QVERIFY(QDir().mkpath(deepest));
    QVERIFY(QDir().mkpath(top + QStringLiteral("/c4")));
    const auto cleanUp = qScopeGuard([&] { // if the test fails: deepest first, as cgroups go
        for (const QString &d : { deepest, QFileInfo(deepest).path(), top + QStringLiteral("/c3"),
                 top + QStringLiteral("/c4"), top })
            QDir().rmdir(d);
    });
    QProcess tool; // a fresh Offload process, which looks for stale cgroups when it starts
    tool.start(binPath("offload"),
        { QStringLiteral("run"), QStringLiteral("--"), QStringLiteral("/bin/true") });
    QVERIFY(tool.waitForFinished(20000));
    QCOMPARE(tool.exitCode(), 0);
    QVERIFY2(!QDir(top).exists(), qPrintable(top));
}

// The child application of the SIGKILL test: a program run whose grandchild escapes its
// session, a program with a child in its group, a worker call; it prints every pid ("escaped"
// for the one that left its session), then "ready".
static int childApplication(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    ProgramRunner runner;
    WorkerPool pool(testWorkerSpec(1));
    QObject context;
    std::set<qint64> printed;
    const auto print = [&](const char *what, qint64 pid) {
        if (pid > 0 && printed.insert(pid).second) {
            std::printf("%s %lld\n", what, pid);
            std::fflush(stdout);
        }
    };
    QByteArray output;
    auto escape = runner.run(&context, program({ "escape" }));
    escape.onOutput([&](const OutputChunk &c) { output += c.data; });
    auto family = runner.run(&context, program({ "grandchild" }));
    family.onOutput([&](const OutputChunk &c) { output += c.data; });
    auto call
        = pool.submit(&context, QStringLiteral("sleep"), obj({ { QStringLiteral("ms"), 60000 } }));
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &context, [&] {
        for (qint64 pid : escapedPids(output))
            print("escaped", pid);
        for (const QByteArray &line : output.split('\n'))
            if (line.startsWith("grandchild "))
                print("pid", line.mid(11).toLongLong());
        print("pid", escape.processInfo().pid);
        print("pid", family.processInfo().pid);
        print("pid", call.processInfo().pid);
        if (printed.size() == 5) {
            std::printf("ready\n");
            std::fflush(stdout);
            poll.stop();
        }
    });
    poll.start(10);
    return app.exec(); // killed with SIGKILL by the test
}

void tst_Reliability::applicationKilledWithSigkillTakesEveryDescendantWithIt_data()
{
    QTest::addColumn<bool>("unprivileged");
    QTest::addColumn<bool>("killGuardFirst");
    QTest::newRow("this user") << false << false;
    QTest::newRow("this user, its guard killed first") << false << true;
    QTest::newRow("unprivileged user (no cgroup: process groups)") << true << false;
    QTest::newRow("unprivileged user, its guard killed first") << true << true;
}

void tst_Reliability::applicationKilledWithSigkillTakesEveryDescendantWithIt()
{
    QFETCH(bool, unprivileged);
    QFETCH(bool, killGuardFirst);
    QProcess child;
    if (unprivileged) {
        if (::geteuid() != 0)
            QSKIP("needs root to start the application as another user (setpriv)");
        child.start(QStringLiteral("/usr/bin/setpriv"),
            { QStringLiteral("--reuid=65534"), QStringLiteral("--regid=65534"),
                QStringLiteral("--clear-groups"), QCoreApplication::applicationFilePath(),
                QStringLiteral("--child-application") });
    } else {
        child.start(
            QCoreApplication::applicationFilePath(), { QStringLiteral("--child-application") });
    }
    QVERIFY(child.waitForStarted(10000));
    QByteArray out;
    QTRY_VERIFY_WITH_TIMEOUT((out += child.readAllStandardOutput()).contains("ready\n"), 20000);
    QList<qint64> pids, escaped;
    for (const QByteArray &line : out.split('\n')) {
        if (line.startsWith("pid "))
            pids << line.mid(4).toLongLong();
        else if (line.startsWith("escaped "))
            escaped << line.mid(8).toLongLong();
    }
    QCOMPARE(pids.size(), 4);
    QCOMPARE(escaped.size(), 1);
    // Which mechanism holds the tree: the escaped process's cgroup says.
    QFile cgroup(QStringLiteral("/proc/%1/cgroup").arg(escaped.first()));
    QVERIFY(cgroup.open(QIODevice::ReadOnly));
    const bool inOwnCgroup = cgroup.readAll().contains("/offload-");
    if (unprivileged)
        QVERIFY2(
            !inOwnCgroup, "an unprivileged user cannot make cgroups here: process groups expected");
    else if (!inOwnCgroup)
        qWarning("no writable cgroup v2 here: only process groups are checked");
    if (killGuardFirst) {
        // Killed from outside (a child of the same user can): replaced at once, told every group.
        const qint64 guard = guardOf(child.processId());
        QVERIFY(guard > 0);
        ::kill(pid_t(guard), SIGKILL);
        QTRY_VERIFY_WITH_TIMEOUT(
            guardOf(child.processId()) > 0 && guardOf(child.processId()) != guard, 10000);
    }
    ::kill(pid_t(child.processId()), SIGKILL);
    QVERIFY(child.waitForFinished(10000));
    QTRY_VERIFY2_WITH_TIMEOUT(
        allGone(pids), "a descendant outlived an application killed with SIGKILL", 10000);
    if (inOwnCgroup) {
        QTRY_VERIFY2_WITH_TIMEOUT(
            allGone(escaped), "a descendant that called setsid() outlived the application", 10000);
    } else {
        // Documented limit of process groups (docs/reliability.md): a process that leaves its
        // session is out of reach. Cleaned up here.
        ::kill(pid_t(escaped.first()), SIGKILL);
    }
}

void tst_Reliability::workerThatClosesItsChannelButLivesFailsItsCall_data()
{
    QTest::addColumn<bool>("stdio");
    QTest::newRow("socketpair") << false;
    QTest::newRow("stdin/stdout") << true;
}

void tst_Reliability::workerThatClosesItsChannelButLivesFailsItsCall()
{
    QFETCH(bool, stdio);
    WorkerPoolSpec spec = testWorkerSpec(1);
    spec.arguments = { "--mode", "close-after-call" };
    spec.stdioChannel = stdio;
    WorkerPool pool(spec);
    QObject context;
    auto call = submitAdd(pool, &context);
    QVERIFY2(call.waitForFinished(20s), "the call hung on a worker that can no longer answer");
    QCOMPARE(call.state(), TaskState::Failed);
    QCOMPARE(call.error().kind, ErrorKind::Protocol);
    QVERIFY2(call.error().message.contains(QStringLiteral("closed its channel")),
        qPrintable(call.error().message));
}

void tst_Reliability::cancellingOneCallRequeuesTheInnocentCallOnItsWorker()
{
    WorkerPoolSpec spec = testWorkerSpec(1);
    spec.environment.insert("TESTWORKER_PIPELINE", "2"); // two calls on the worker at once
    spec.cancelGrace = 200ms;
    WorkerPool pool(spec);
    QObject context;
    auto stubborn = pool.submit(
        &context, QStringLiteral("stubborn"), obj({ { QStringLiteral("ms"), 60000 } }));
    QTRY_COMPARE_WITH_TIMEOUT(stubborn.progress().stage.name, QStringLiteral("stubborn"),
        10000); // started: a cancel before that would be answered, not ignored
    auto innocent = submitAdd(pool, &context);
    QTRY_COMPARE_WITH_TIMEOUT(
        innocent.state(), TaskState::Running, 10000); // sent to the same worker
    stubborn.cancel();
    QVERIFY(stubborn.waitForFinished(10s));
    QCOMPARE(stubborn.state(), TaskState::Cancelled);
    QVERIFY(innocent.waitForFinished(10s));
    QCOMPARE(innocent.state(), TaskState::Finished); // requeued on a fresh worker, not "crash"
    QCOMPARE(innocent.result().value.toInt(), 3);
}

void tst_Reliability::restartLimitRecoversWhenItsWindowHasPassed()
{
    WorkerPoolSpec spec = testWorkerSpec(1);
    spec.restartLimit = 0;
    spec.restartWindow = 2s; // long enough to be seen broken on a loaded machine
    WorkerPool pool(spec);
    QObject context;
    auto crash = pool.submit(&context, QStringLiteral("crash"),
        obj({ { QStringLiteral("how"), QStringLiteral("exit") } }));
    QVERIFY(crash.waitForFinished(10s));
    QCOMPARE(crash.error().kind, ErrorKind::Crash);
    QTRY_VERIFY_WITH_TIMEOUT(pool.status().broken, 10000);
    QCOMPARE(pool.status().brokenError.kind, ErrorKind::Crash); // not "launch": it did start
    // Once the window has passed, calls run again.
    QTRY_VERIFY_WITH_TIMEOUT(!pool.status().broken, 10000);
    auto add = submitAdd(pool, &context);
    QVERIFY(add.waitForFinished(10s));
    QCOMPARE(add.state(), TaskState::Finished);
}

void tst_Reliability::workerLeavingCleanlyAfterAnsweringIsNotAFailure()
{
    WorkerPoolSpec spec = testWorkerSpec(1);
    spec.restartLimit = 0; // a single counted exit would break the pool
    WorkerPool pool(spec);
    QObject context;
    auto bye = pool.submit(&context, QStringLiteral("answerAndExit"));
    QVERIFY(bye.waitForFinished(10s));
    QCOMPARE(bye.result().value.toString(), QStringLiteral("bye"));
    QTRY_COMPARE_WITH_TIMEOUT(pool.status().workers, 0, 10000);
    QCOMPARE(pool.status().restarts, 0);
    QVERIFY(!pool.status().broken);
    auto add = submitAdd(pool, &context);
    QVERIFY(add.waitForFinished(10s));
    QCOMPARE(add.state(), TaskState::Finished);
}

// The restart limit guards against workers that cannot work (a crash at start or on every
// call), not against crashes of workers that were working: a worker killed by the OOM killer
// or by hand after answering costs its own call, never the pool.
void tst_Reliability::workersKilledAfterAnsweringDoNotBreakThePool()
{
    WorkerPoolSpec spec = testWorkerSpec(1);
    spec.restartLimit = 1;
    WorkerPool pool(spec);
    QObject context;
    for (int round = 0; round < 4; ++round) {
        auto add = submitAdd(pool, &context);
        QVERIFY(add.waitForFinished(10s));
        QCOMPARE(add.state(), TaskState::Finished);
        auto sleeping = pool.submit(
            &context, QStringLiteral("sleep"), obj({ { QStringLiteral("ms"), 10000 } }));
        // The pid reaches the call with the pool's next sample of its worker (every 500 ms).
        QTRY_VERIFY_WITH_TIMEOUT(sleeping.processInfo().pid > 0, 10000);
        ::kill(pid_t(sleeping.processInfo().pid), SIGKILL);
        QVERIFY(sleeping.waitForFinished(10s));
        QCOMPARE(sleeping.error().kind, ErrorKind::Crash);
        QVERIFY2(!pool.status().broken, qPrintable(pool.status().brokenError.message));
    }
    QCOMPARE(pool.status().restarts, 4); // counted all the same
}

void tst_Reliability::garbageInsteadOfHelloFailsTheCallAfterTwoStarts()
{
    WorkerPoolSpec spec = testWorkerSpec(1);
    spec.arguments = { "--mode", "garbage-hello" };
    WorkerPool pool(spec);
    QObject context;
    auto call = pool.submit(&context, QStringLiteral("add"));
    QVERIFY(call.waitForFinished(20s));
    QCOMPARE(call.state(), TaskState::Failed);
    QCOMPARE(call.error().kind, ErrorKind::Protocol); // bytes that break the protocol, not "launch"
    QCOMPARE(pool.status().restarts, 2); // like every start failure: after two
    QVERIFY(!pool.status().broken);
}

void tst_Reliability::largeCallsAndAnswersPassOnBothChannels_data()
{
    QTest::addColumn<bool>("stdio");
    QTest::addColumn<int>("size");
    for (bool stdio : { false, true }) {
        for (int size : { 0, 65535, 65537, 8 << 20, 64 << 20 }) {
            QTest::addRow("%s %d bytes", stdio ? "stdio" : "socket", size) << stdio << size;
        }
    }
}

void tst_Reliability::largeCallsAndAnswersPassOnBothChannels()
{
    QFETCH(bool, stdio);
    QFETCH(int, size);
    WorkerPoolSpec spec = testWorkerSpec(1);
    spec.stdioChannel = stdio;
    spec.maxHeaderBytes = qint64(256) << 20;
    WorkerPool pool(spec);
    QObject context;
    QByteArray payload(size, '\0');
    for (int i = 0; i < size; i += 4096)
        payload[i] = char(i / 4096);
    // The same size as JSON text in the header and as binary payload, both ways.
    const QString text(size, QLatin1Char('a'));
    auto call = pool.submit(
        &context, QStringLiteral("echo"), obj({ { QStringLiteral("text"), text } }), payload);
    QVERIFY2(call.waitForFinished(120s), "a large call or answer hung on a full pipe");
    QCOMPARE(call.state(), TaskState::Finished);
    QCOMPARE(call.result().payload.size(), payload.size());
    QVERIFY(call.result().payload == payload);
    QCOMPARE(call.result().value.toObject().value(QStringLiteral("text")).toString().size(), size);
}

void tst_Reliability::fractionalCallIdIsAProtocolError()
{
    WorkerPool pool(testWorkerSpec(1));
    QObject context;
    auto call = pool.submit(&context, QStringLiteral("fractionalId")); // the pool's first id: 1
    QVERIFY(call.waitForFinished(10s));
    QCOMPARE(call.state(), TaskState::Failed);
    QCOMPARE(call.error().kind, ErrorKind::Protocol);
    QVERIFY2(call.error().message.contains(QStringLiteral("invalid call id")),
        qPrintable(call.error().message));
}

void tst_Reliability::workerWideLogLinesReachTheCallsOutput()
{
    WorkerPool pool(testWorkerSpec(1));
    QObject context;
    QByteArray log;
    auto call = pool.submit(&context, QStringLiteral("workerLog"));
    call.onOutput([&](const OutputChunk &c) {
        if (c.stream == OutputChunk::Log)
            log += c.data;
    });
    bool ended = false;
    call.onFinished([&](const auto &) { ended = true; });
    QTRY_VERIFY_WITH_TIMEOUT(ended, 10000);
    QCOMPARE(call.state(), TaskState::Finished);
    QCOMPARE(log, QByteArray("worker-wide line\n"));
}

void tst_Reliability::heartbeatFailsACallWhoseWorkerIsWedged()
{
    WorkerPoolSpec spec = testWorkerSpec(1);
    spec.heartbeatTimeout = 500ms;
    WorkerPool pool(spec);
    QObject context;
    auto slow
        = pool.submit(&context, QStringLiteral("sleep"), obj({ { QStringLiteral("ms"), 1000 } }));
    QVERIFY(slow.waitForFinished(10s));
    QCOMPARE(slow.state(), TaskState::Finished); // silent but answering pings: alive
    auto call = pool.submit(&context, QStringLiteral("wedge"));
    QVERIFY2(call.waitForFinished(10s), "a wedged worker hung its call");
    QCOMPARE(call.state(), TaskState::Failed);
    QCOMPARE(call.error().kind, ErrorKind::Timeout);
    QVERIFY2(call.error().message.contains(QStringLiteral("heartbeat")),
        qPrintable(call.error().message));
}

void tst_Reliability::soakKillingWorkersAndProgramsAtRandomLeavesNothingBehind()
{
    {
        // Offload's lasting descriptors (supervisor, guard process) exist before counting.
        ProgramRunner warmUp;
        QObject context;
        QVERIFY(warmUp.run(&context, program({ "sleep", "1" })).waitForFinished(10s));
    }
    const int fdsBefore = openFdCount();
    QList<qint64> pids;
    std::vector<TaskHandle<WorkerResult>> calls;
    std::vector<TaskHandle<ProgramResult>> runs;
    QByteArray escapedOutput;
    {
        WorkerPoolSpec spec = testWorkerSpec(2);
        spec.cancelGrace = 100ms;
        spec.restartLimit = 1000;
        WorkerPool pool(spec);
        ProgramRunner runner(2);
        QObject context;
        auto *rng = QRandomGenerator::global();
        QElapsedTimer clock;
        clock.start();
        int round = 0;
        while (clock.elapsed() < 3000) {
            ++round;
            calls.push_back(pool.submit(&context, QStringLiteral("sleep"),
                obj({ { QStringLiteral("ms"), int(rng->bounded(30)) } })));
            ProgramSpec spec = program(round % 3 == 0 ? QByteArrayList { "escape", "30" }
                                                      : QByteArrayList { "sleep", "20" });
            spec.cancelGrace = 100ms;
            spec.returnParameterFile = round % 2 == 0;
            runs.push_back(runner.run(&context, spec));
            runs.back().onOutput([&](const OutputChunk &c) { escapedOutput += c.data; });
            // Something bad happens to a random task that is running.
            switch (rng->bounded(4)) {
            case 0: // only a task still running: a reaped pid could be someone else's by now
                if (const auto &c = calls[rng->bounded(int(calls.size()))];
                    c.state() == TaskState::Running && c.processInfo().pid > 0)
                    ::kill(pid_t(c.processInfo().pid), SIGKILL);
                break;
            case 1:
                if (const auto &r = runs[rng->bounded(int(runs.size()))];
                    r.state() == TaskState::Running && r.processInfo().pid > 0)
                    ::kill(pid_t(r.processInfo().pid), SIGKILL);
                break;
            case 2:
                calls[rng->bounded(int(calls.size()))].cancel();
                break;
            default:
                runs[rng->bounded(int(runs.size()))].cancel();
            }
            for (const auto &c : calls)
                if (c.processInfo().pid > 0 && !pids.contains(c.processInfo().pid))
                    pids << c.processInfo().pid;
            for (const auto &r : runs)
                if (r.processInfo().pid > 0 && !pids.contains(r.processInfo().pid))
                    pids << r.processInfo().pid;
            QTest::qWait(rng->bounded(1, 15)); // the event loop delivers meanwhile
        }
        for (const auto &c : calls)
            QVERIFY2(c.waitForFinished(20s), "a call never ended");
        for (const auto &r : runs)
            QVERIFY2(r.waitForFinished(20s), "a program run never ended");
        QCoreApplication::processEvents();
    } // the pool and the runner are destroyed: every worker is reaped
    for (const auto &c : calls)
        QVERIFY(c.state() == TaskState::Finished || c.state() == TaskState::Failed
            || c.state() == TaskState::Cancelled);
    pids << escapedPids(escapedOutput);
    QVERIFY2(pids.size() > 10, "the soak started too few processes to mean anything");
    QTRY_VERIFY2_WITH_TIMEOUT(allGone(pids), "a process or descendant outlived its task", 10000);
    QTRY_COMPARE_WITH_TIMEOUT(zombieChildren(), 0, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(openFdCount(), fdsBefore, 10000);
    QVERIFY2(ourReturnDirs().isEmpty(), qPrintable(ourReturnDirs().join(QLatin1Char(' '))));
}

int main(int argc, char **argv)
{
    if (argc > 1 && qstrcmp(argv[1], "--child-application") == 0)
        return childApplication(1, argv);
    QCoreApplication app(argc, argv);
    tst_Reliability tc;
    return QTest::qExec(&tc, argc, argv);
}

#include "tst_reliability.moc"
