// Program runs and worker pools through the ssh launcher, against the testbed's sshd
// (scripts/testbed up; OFFLOAD_TEST_SSH_CONFIG names its client configuration). Also the
// quoting every remote command line is built with, and parsing of --on addresses.
#include <offload/modules/modulerunner.h>
#include <offload/process/launcher.h>
#include <offload/process/programrunner.h>
#include <offload/process/shellquote.h>
#include <offload/process/workerpool.h>

#include "../common/testsupport.h"
#include "processtestsupport.h"
#include "remotetestsupport.h"

#include <QDir>
#include <QFileInfo>
#include <QJsonObject>
#include <QScopeGuard>
#include <QTemporaryDir>
#include <QTest>

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace offload;

namespace { } // namespace

class tst_Ssh : public QObject
{
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void cleanup();
    void quotedWordsReadBackExactly();
    void parsesPlacesToRun();
    void argumentsCannotInjectCommands();
    void outputExitCodeAndProgressComeBack();
    void environmentAndWorkingDirectoryApply();
    void missingProgramIsItsOwnError();
    void failuresOfSshAreDistinct();
    void cancelLeavesNothingBehind();
    void timeoutStopsTheRemoteTree();
    void workerPoolCallsOverSsh();
    void manyRunsShareOneConnection();
    void loginScriptChatterNeverReachesTheProgram();
    void runsStartBeforeTheControlScriptAndItsStopsWait();
    void returnParameterFilesComeBack();
    void moduleRunsOverSsh();
    void commandLineToolRunsThere();
    void variablesAndNamesCannotSteerTheWrapper();
    void aDaemonHoldingTheStreamsDoesNotHoldTheRun();

private:
    SshTarget target() const;
    ProgramResult runOk(ProgramSpec spec);
    QString m_config;
    uid_t m_uid = 0;
};

// QSKIP ends the test function it is written in, not a helper it is called from: without the
// testbed, a helper's skip let each test go on against nothing (tst_slurm then ran into the
// test-function timeout).
#define REQUIRE_TESTBED()                                                                          \
    do {                                                                                           \
        if (m_config.isEmpty())                                                                    \
            QSKIP(                                                                                 \
                "no ssh testbed: OFFLOAD_TEST_SSH_CONFIG is not set (scripts/testbed up sets it; " \
                "scripts/test runs it where it can)");                                             \
    } while (false)

void tst_Ssh::initTestCase()
{
    m_config = qEnvironmentVariable("OFFLOAD_TEST_SSH_CONFIG");
    if (const passwd *pw = ::getpwnam("offloadtest"))
        m_uid = pw->pw_uid;
    QFile::remove(QStringLiteral("/tmp/offload-pwned"));
}

void tst_Ssh::cleanup()
{
    QVERIFY(!QFile::exists(QStringLiteral("/tmp/offload-pwned")));
}

SshTarget tst_Ssh::target() const
{
    SshTarget t;
    t.host = QStringLiteral("offload-test");
    t.configFile = m_config;
    t.idleTimeout = std::chrono::seconds(2);
    return t;
}

ProgramResult tst_Ssh::runOk(ProgramSpec spec)
{
    spec.launcher = Launcher::ssh(target());
    ProgramRunner runner(1);
    auto t = runner.run(this, std::move(spec));
    [&] { QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 30000); }();
    if (t.state() != TaskState::Finished)
        qWarning() << t.error().summary() << t.error().stderrTail;
    [&] { QCOMPARE(t.state(), TaskState::Finished); }();
    return t.state() == TaskState::Finished ? t.result() : ProgramResult {};
}

void tst_Ssh::quotedWordsReadBackExactly()
{
    // A local /bin/sh reads the quoted line back word for word.
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sh");
    spec.arguments
        = { "-c", "for w in " + shellQuote(hostileWords) + "; do printf '[%s]' \"$w\"; done" };
    spec.progress = ProgressFormat::None;
    auto t = runner.run(this, spec);
    QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 20000);
    QCOMPARE(t.state(), TaskState::Finished);
    QCOMPARE(t.result().stdoutText, framed(hostileWords));
    QCOMPARE(shellQuote(QByteArrayList { "x=1" }), QByteArray("'x=1'")); // not an assignment
    QCOMPARE(shellQuote(QByteArrayList { "/bin/prog", "--a=b", "it's" }),
        QByteArray("/bin/prog --a=b 'it'\\''s'"));
    QCOMPARE(shellQuote(QStringList { QStringLiteral("é") }), QStringLiteral("'é'"));
}

void tst_Ssh::parsesPlacesToRun()
{
    QCOMPARE(Launcher::parse(QStringLiteral("local"))->kind(), Launcher::Kind::Local);
    const auto l = Launcher::parse(QStringLiteral("ssh://alice@example.org:2222"));
    QVERIFY(l);
    QCOMPARE(l->sshTarget().user, QStringLiteral("alice"));
    QCOMPARE(l->sshTarget().host, QStringLiteral("example.org"));
    QCOMPARE(l->sshTarget().port, 2222);
    QCOMPARE(l->toString(), QStringLiteral("ssh://alice@example.org:2222"));
    QCOMPARE(
        Launcher::parse(QStringLiteral("ssh://[::1]"))->toString(), QStringLiteral("ssh://[::1]"));
    QString error;
    for (const char *bad : { "ssh://", "ssh://-oProxyCommand=x", "ssh://a:b@host", "ftp://h",
             "ssh://host/path", "somewhere" }) {
        error.clear();
        QVERIFY2(!Launcher::parse(QString::fromLatin1(bad), &error), bad);
        QVERIFY2(!error.isEmpty(), bad);
    }
}

void tst_Ssh::argumentsCannotInjectCommands()
{
    REQUIRE_TESTBED();
    ProgramSpec spec;
    spec.program = QStringLiteral("/usr/bin/printf");
    spec.arguments = QByteArrayList { "[%s]" } + hostileWords;
    spec.progress = ProgressFormat::Raw;
    const ProgramResult r = runOk(spec);
    QCOMPARE(r.raw, framed(hostileWords));
}

void tst_Ssh::outputExitCodeAndProgressComeBack()
{
    REQUIRE_TESTBED();
    ProgramSpec spec;
    spec.arguments = { "lines" };
    spec.program = remoteBinary("testprogram", &spec.arguments);
    const ProgramResult r = runOk(spec);
    QCOMPARE(r.json.toObject().value(QStringLiteral("answer")).toInt(), 42);
    QCOMPARE(r.stdoutText, QByteArray("hello\n"));

    ProgramRunner runner(1);
    spec.program = QStringLiteral("/bin/sh");
    spec.arguments = { "-c", "echo to-stderr >&2; exit 3" };
    spec.launcher = Launcher::ssh(target());
    auto t = runner.run(this, spec);
    QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 30000);
    QCOMPARE(t.state(), TaskState::Failed);
    QCOMPARE(t.error().kind, ErrorKind::ExitCode);
    QCOMPARE(t.error().exitCode, 3);
    QCOMPARE(t.error().stderrTail, QByteArray("to-stderr\n")); // no marker, no ssh noise
    QCOMPARE(t.processInfo().location, QStringLiteral("ssh://offload-test"));
}

void tst_Ssh::environmentAndWorkingDirectoryApply()
{
    REQUIRE_TESTBED();
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sh");
    spec.arguments = { "-c", "printf '%s|%s|%s' \"$OFFLOAD_X\" \"$(pwd)\" \"${LANG-unset}\"" };
    spec.environment.insert("OFFLOAD_X", "a b;$(c)");
    spec.environment.remove("LANG");
    spec.workingDirectory = QStringLiteral("/tmp");
    spec.progress = ProgressFormat::None;
    const ProgramResult r = runOk(spec);
    QCOMPARE(r.stdoutText, QByteArray("a b;$(c)|/tmp|unset"));
}

void tst_Ssh::missingProgramIsItsOwnError()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("/nonexistent/program");
    spec.launcher = Launcher::ssh(target());
    auto t = runner.run(this, spec);
    QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 30000);
    QCOMPARE(t.state(), TaskState::Failed);
    QCOMPARE(t.error().kind, ErrorKind::Launch);
    QCOMPARE(t.error().remoteFailure, RemoteFailure::ProgramMissing);
    QVERIFY2(t.error().message.contains(QStringLiteral("/nonexistent/program")),
        qPrintable(t.error().message));
}

void tst_Ssh::failuresOfSshAreDistinct()
{
    REQUIRE_TESTBED();
    QTemporaryDir dir;
    QFile empty(dir.filePath(QStringLiteral("known_hosts")));
    QVERIFY(empty.open(QIODevice::WriteOnly));
    empty.close();
    QFile changed(dir.filePath(QStringLiteral("changed_hosts")));
    QVERIFY(changed.open(QIODevice::WriteOnly));
    // A key that is not the server's, for the server's name.
    changed.write("[127.0.0.1]:2222 ssh-ed25519 "
                  "AAAAC3NzaC1lZDI1NTE5AAAAIGs2Yf0L5rjPZQw0VmlkmRJYXWJK4VGvqWVoZ0cfZ0m1\n");
    changed.close();
    struct Case
    {
        SshTarget target;
        RemoteFailure expected;
    };
    SshTarget unreachable = target();
    unreachable.port = 1; // nothing listens there
    SshTarget unknownKey = target();
    unknownKey.knownHostsFile = empty.fileName();
    SshTarget changedKey = target();
    changedKey.knownHostsFile = changed.fileName();
    SshTarget refused = target();
    refused.user = QStringLiteral("nobody"); // the key is not authorised for that user
    const Case cases[] = { { unreachable, RemoteFailure::HostUnreachable },
        { unknownKey, RemoteFailure::HostKeyUnknown },
        { changedKey, RemoteFailure::HostKeyChanged },
        { refused, RemoteFailure::AuthenticationRefused } };
    ProgramRunner runner(4);
    for (const Case &c : cases) {
        ProgramSpec spec;
        spec.program = QStringLiteral("/bin/true");
        spec.launcher = Launcher::ssh(c.target);
        auto t = runner.run(this, spec);
        QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 30000);
        QCOMPARE(t.state(), TaskState::Failed);
        QCOMPARE(t.error().kind, ErrorKind::Remote);
        QCOMPARE(remoteFailureName(t.error().remoteFailure), remoteFailureName(c.expected));
        QVERIFY(!t.error().message.isEmpty());
    }
}

void tst_Ssh::cancelLeavesNothingBehind()
{
    REQUIRE_TESTBED();
    QVERIFY(m_uid > 0);
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sh");
    // A child, a grandchild, and a process that left the group with setsid; all quiet.
    spec.arguments
        = { "-c", "sleep 307 & sh -c 'sleep 308' & setsid sleep 309 & echo started; wait" };
    spec.progress = ProgressFormat::None;
    spec.cancelGrace = std::chrono::milliseconds(500);
    spec.launcher = Launcher::ssh(target());
    auto t = runner.run(this, spec);
    QTRY_VERIFY_WITH_TIMEOUT(countMatching(m_uid, "sleep 30") >= 3, 30000);
    t.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 30000);
    QCOMPARE(t.state(), TaskState::Cancelled);
    // Only the connection's own processes remain (sshd's session and the control script).
    QTRY_COMPARE_WITH_TIMEOUT(countMatching(m_uid, "sleep 30"), 0, 10000);
}

void tst_Ssh::timeoutStopsTheRemoteTree()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sleep");
    spec.arguments = { "311" };
    spec.timeout = std::chrono::milliseconds(1500);
    spec.launcher = Launcher::ssh(target());
    auto t = runner.run(this, spec);
    QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 30000);
    QCOMPARE(t.state(), TaskState::Failed);
    QCOMPARE(t.error().kind, ErrorKind::Timeout);
    QTRY_COMPARE_WITH_TIMEOUT(countMatching(m_uid, "311"), 0, 10000);
}

void tst_Ssh::workerPoolCallsOverSsh()
{
    REQUIRE_TESTBED();
    WorkerPoolSpec spec;
    spec.program = remoteBinary("testworker", &spec.arguments);
    spec.maxWorkers = 2;
    spec.cancelGrace = std::chrono::milliseconds(500);
    spec.launcher = Launcher::ssh(target());
    WorkerPool pool(spec);
    auto add = pool.submit(this, QStringLiteral("add"), QJsonObject { { "a", 2 }, { "b", 3 } });
    auto echo = pool.submit(
        this, QStringLiteral("echo"), QJsonValue(QStringLiteral("x")), QByteArray(1 << 20, 'p'));
    auto progress = pool.submit(this, QStringLiteral("progress"), QJsonObject { { "steps", 5 } });
    QTRY_VERIFY_WITH_TIMEOUT(add.isFinal() && echo.isFinal() && progress.isFinal(), 30000);
    QCOMPARE(add.state(), TaskState::Finished);
    QCOMPARE(add.result().value.toDouble(), 5.0);
    QCOMPARE(echo.result().payload.size(), 1 << 20);
    QCOMPARE(progress.state(), TaskState::Finished);
    auto fail = pool.submit(this, QStringLiteral("fail"));
    QTRY_VERIFY_WITH_TIMEOUT(fail.isFinal(), 30000);
    QCOMPARE(fail.error().kind, ErrorKind::WorkerError);
    auto stubborn = pool.submit(this, QStringLiteral("stubborn"), QJsonObject { { "ms", 60000 } });
    QTRY_VERIFY_WITH_TIMEOUT(stubborn.state() == TaskState::Running, 30000);
    stubborn.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(stubborn.isFinal(), 30000);
    QCOMPARE(stubborn.state(), TaskState::Cancelled);
    auto crash = pool.submit(this, QStringLiteral("crash"), QJsonObject { { "how", "segfault" } });
    QTRY_VERIFY_WITH_TIMEOUT(crash.isFinal(), 30000);
    QCOMPARE(crash.state(), TaskState::Failed);
    QCOMPARE(crash.error().kind, ErrorKind::Crash);
    pool.shutdown();
    QTRY_COMPARE_WITH_TIMEOUT(countMatching(m_uid, "testworker"), 0, 10000);
}

void tst_Ssh::manyRunsShareOneConnection()
{
    REQUIRE_TESTBED();
    // More runs at once than the server's MaxSessions (10): the rest connect directly.
    ProgramRunner runner(14);
    QList<TaskHandle<ProgramResult>> tasks;
    for (int i = 0; i < 14; ++i) {
        ProgramSpec spec;
        spec.program = QStringLiteral("/bin/sh");
        spec.arguments = { "-c", "sleep 1; echo " + QByteArray::number(i) };
        spec.progress = ProgressFormat::None;
        spec.launcher = Launcher::ssh(target());
        tasks << runner.run(this, spec);
    }
    for (int i = 0; i < tasks.size(); ++i) {
        QTRY_VERIFY_WITH_TIMEOUT(tasks[i].isFinal(), 60000);
        QCOMPARE(tasks[i].state(), TaskState::Finished);
        QCOMPARE(tasks[i].result().stdoutText, QByteArray::number(i) + '\n');
    }
}

void tst_Ssh::loginScriptChatterNeverReachesTheProgram()
{
    REQUIRE_TESTBED();
    const passwd *pw = ::getpwnam("offloadtest");
    QVERIFY(pw);
    const QString bashrc = QFile::decodeName(pw->pw_dir) + QStringLiteral("/.bashrc");
    QFile file(bashrc);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray original = file.readAll();
    file.close();
    const auto restore = qScopeGuard([&] {
        QFile f(bashrc);
        if (f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            f.write(original);
    });
    // A login script that talks on both streams before anything of ours runs.
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write(
        "echo 'welcome to the cluster'; printf '\\036offload:x\\n'; echo motd >&2\n" + original);
    file.close();

    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sh");
    spec.arguments = { "-c", "echo out; echo err >&2" };
    spec.progress = ProgressFormat::None;
    SshTarget fresh = target();
    fresh.idleTimeout = std::chrono::seconds(1);
    fresh.options << QStringLiteral("ConnectionAttempts=1"); // a connection of its own
    spec.launcher = Launcher::ssh(fresh);
    ProgramRunner runner(1);
    auto t = runner.run(this, spec);
    QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 30000);
    QCOMPARE(t.state(), TaskState::Finished);
    QCOMPARE(t.result().stdoutText, QByteArray("out\n"));
    QCOMPARE(t.result().stderrText, QByteArray("err\n"));

    // The worker protocol on stdout survives it too.
    WorkerPoolSpec ws;
    ws.program = remoteBinary("testworker", &ws.arguments);
    ws.launcher = Launcher::ssh(fresh);
    WorkerPool pool(ws);
    auto add = pool.submit(this, QStringLiteral("add"), QJsonObject { { "a", 1 }, { "b", 2 } });
    QTRY_VERIFY_WITH_TIMEOUT(add.isFinal(), 30000);
    QCOMPARE(add.state(), TaskState::Finished);
    QCOMPARE(add.result().value.toDouble(), 3.0);
}

// The first run over a new connection starts as soon as the master has logged in, not once
// its control script runs; a stop sent before the control script runs reaches the run when it
// does. The control script is held back by the login script, reading a FIFO the test writes.
void tst_Ssh::runsStartBeforeTheControlScriptAndItsStopsWait()
{
    REQUIRE_TESTBED();
    const passwd *pw = ::getpwnam("offloadtest");
    QVERIFY(pw);
    const QByteArray hold
        = "/tmp/offload-hold-" + QByteArray::number(QCoreApplication::applicationPid());
    ::unlink(hold.constData());
    QCOMPARE(::mkfifo(hold.constData(), 0600), 0);
    QCOMPARE(::chown(hold.constData(), pw->pw_uid, pw->pw_gid), 0);
    const QString bashrc = QFile::decodeName(pw->pw_dir) + QStringLiteral("/.bashrc");
    QFile file(bashrc);
    QVERIFY(file.open(QIODevice::ReadOnly));
    const QByteArray original = file.readAll();
    file.close();
    const auto release = [&] {
        const int fd = ::open(hold.constData(), O_WRONLY | O_NONBLOCK); // ENXIO: no reader
        const bool sent = fd >= 0 && ::write(fd, "go\n", 3) == 3;
        if (fd >= 0)
            ::close(fd);
        return sent;
    };
    const auto restore = qScopeGuard([&] {
        QFile f(bashrc);
        if (f.open(QIODevice::WriteOnly | QIODevice::Truncate))
            f.write(original);
        release();
        ::unlink(hold.constData());
    });
    // Opened read-write, so that opening does not wait for the test; read at most 60 s.
    QVERIFY(file.open(QIODevice::WriteOnly | QIODevice::Truncate));
    file.write("case $BASH_EXECUTION_STRING in *offload-control*) exec 3<>'" + hold
        + "'; read -r -t 60 _ <&3; exec 3<&- ;; esac\n" + original);
    file.close();

    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sh");
    spec.arguments = { "-c", "echo started; exec sleep \"$0\"", "313" }; // "sleep 313": one
    spec.progress = ProgressFormat::None;
    spec.cancelGrace = std::chrono::milliseconds(300);
    SshTarget fresh = target();
    fresh.options << QStringLiteral("ConnectionAttempts=1"); // a connection of its own
    spec.launcher = Launcher::ssh(fresh);
    ProgramRunner runner(2);
    QByteArray out;
    QObject context; // the callbacks write locals: their context dies with them
    auto t = runner.run(&context, spec);
    t.onOutput([&](const OutputChunk &c) { out += c.data; });
    // One that ends by itself after its client is gone, leaving a child behind: its wrapper
    // still ends the group (its registration was kept: no exit was seen).
    ProgramSpec ending = spec;
    ending.arguments = { "-c", "sleep \"$0\" & echo started; exec sleep 8", "314" };
    QByteArray endingOut;
    auto e = runner.run(&context, ending);
    e.onOutput([&](const OutputChunk &c) { endingOut += c.data; });
    QTRY_VERIFY_WITH_TIMEOUT(out.contains("started") && endingOut.contains("started"), 30000);
    QCOMPARE(countMatching(m_uid, "sleep 313"), 1);
    QCOMPARE(countMatching(m_uid, "sleep 314"), 1);
    // Stopped while the control script waits: the local clients end after the grace and the
    // kill's wait; the stop lines wait until the control script runs.
    t.cancel();
    e.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(t.isFinal() && e.isFinal(), 30000);
    QCOMPARE(t.state(), TaskState::Cancelled);
    QCOMPARE(e.state(), TaskState::Cancelled);
    QTRY_COMPARE_WITH_TIMEOUT(countMatching(m_uid, "sleep 314"), 0, 20000);
    QCOMPARE(countMatching(m_uid, "sleep 313"), 1);
    bool released = false; // QTRY evaluates its condition once more at the end
    QTRY_VERIFY_WITH_TIMEOUT(released || (released = release()), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(countMatching(m_uid, "sleep 313"), 0, 10000);
}

void tst_Ssh::returnParameterFilesComeBack()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(3);
    const auto start = [&](const QByteArray &script) {
        ProgramSpec spec;
        spec.program = QStringLiteral("/bin/sh");
        spec.arguments = { "-c", script, "sh", ProgramSpec::returnParameterFilePlaceholder };
        spec.progress = ProgressFormat::None;
        spec.returnParameterFile = true;
        spec.launcher = Launcher::ssh(target());
        return runner.run(this, spec);
    };
    auto written = start("printf 'a = 1\\nb = x y\\n' > \"$1\"; echo \"$1\"");
    auto none = start("true");
    auto fifo = start("mkfifo \"$1\"");
    auto failed = start("printf 'c = 2\\n' > \"$1\"; exit 4");
    for (auto *t : { &written, &none, &fifo, &failed })
        QTRY_VERIFY_WITH_TIMEOUT(t->isFinal(), 30000);
    QCOMPARE(written.state(), TaskState::Finished);
    QCOMPARE(written.result().returnParameters, QByteArray("a = 1\nb = x y\n"));
    // The private directory over there is gone afterwards.
    const QByteArray path = written.result().stdoutText.trimmed();
    QVERIFY(path.endsWith("/returnparameters.txt"));
    QVERIFY(!QFileInfo::exists(QFile::decodeName(path).section(QLatin1Char('/'), 0, -2)));
    QCOMPARE(none.state(), TaskState::Finished);
    QVERIFY(!none.result().returnParameters);
    QCOMPARE(fifo.state(), TaskState::Failed);
    QCOMPARE(fifo.error().kind, ErrorKind::Protocol);
    QVERIFY2(fifo.error().message.contains(QStringLiteral("not a regular file")),
        qPrintable(fifo.error().message));
    QCOMPARE(failed.state(), TaskState::Failed);
    QCOMPARE(failed.error().exitCode, 4);
    QCOMPARE(failed.error().partial.value<ProgramResult>().returnParameters, QByteArray("c = 2\n"));
}

void tst_Ssh::moduleRunsOverSsh()
{
    REQUIRE_TESTBED();
    ModuleRunner runner;
    auto described = runner.describe(this, binPath("offload-example-blur"));
    QTRY_VERIFY_WITH_TIMEOUT(described.isFinal(), 30000);
    QCOMPARE(described.state(), TaskState::Finished);
    Module m = described.result();
#ifdef __SANITIZE_THREAD__
    QByteArrayList launch;
    m.program = remoteBinary("offload-example-blur", &launch);
    m.launchArguments = QStringList { QString::fromLatin1(launch[0]), QStringLiteral("-R"), m.path }
        + m.launchArguments;
#endif
    const QString summary
        = QStringLiteral("/tmp/offload-ssh-summary-%1.txt").arg(QCoreApplication::applicationPid());
    const auto removeSummary = qScopeGuard([&] { QFile::remove(summary); });
    ModuleRunOptions options;
    options.launcher = Launcher::ssh(target());
    QList<Progress> progress;
    // The callback writes a local: its context dies with them. (isFinal() is true before the
    // final delivery; with the test object as context, that delivery came during the next test
    // and wrote into this function's gone stack: ASan, stack-use-after-return.)
    QObject context;
    auto run = runner.run(&context, m,
        { { "iterations", 40 }, { "method", "box" }, { "summary", summary } }, options);
    run.onProgress([&](const Progress &p) { progress << p; });
    QTRY_VERIFY_WITH_TIMEOUT(run.isFinal(), 60000);
    QCOMPARE(run.state(), TaskState::Finished);
    const sem::ReturnValues rv = ModuleRunner::returnValues(m, run.result());
    QVERIFY2(rv.warnings.isEmpty(), qPrintable(rv.warnings.join('\n')));
    QCOMPARE(rv.values.value("status").toString(), QStringLiteral("ok"));
    QCOMPARE(rv.values.value("checksum").typeId(), QMetaType::LongLong);
    QTRY_VERIFY_WITH_TIMEOUT(!progress.isEmpty() && progress.last().fraction() == 1.0, 5000);
    QVERIFY(QFileInfo(summary).isFile()); // written over there, by the remote user
    QCOMPARE(QFileInfo(summary).ownerId(), m_uid);
}

void tst_Ssh::commandLineToolRunsThere()
{
    REQUIRE_TESTBED();
    if (!QFileInfo::exists(binPath("offload")))
        QSKIP("the offload tool is not built (OFFLOAD_BUILD_APPS=OFF)");
    ProgramRunner runner(2);
    const auto tool = [&](const QByteArrayList &args) {
        ProgramSpec spec;
        spec.program = binPath("offload");
        spec.arguments = args;
        spec.progress = ProgressFormat::None;
        return runner.run(this, spec);
    };
    const QByteArray config = QFile::encodeName(m_config);
    auto ok = tool({ "run", "--on", "ssh://offload-test", "--ssh-config", config, "--", "/bin/sh",
        "-c", "whoami; exit 3" });
    auto refused = tool(
        { "run", "--on", "ssh://nobody@offload-test", "--ssh-config", config, "--", "/bin/true" });
    for (auto *t : { &ok, &refused })
        QTRY_VERIFY_WITH_TIMEOUT(t->isFinal(), 30000);
    QCOMPARE(ok.error().exitCode, 3); // the remote program's code is the tool's
    QVERIFY(ok.error().partial.value<ProgramResult>().stdoutText.contains("offloadtest"));
    QCOMPARE(refused.error().exitCode, 1);
    QVERIFY2(refused.error().stderrTail.contains("authentication refused"),
        refused.error().stderrTail.constData());
}

void tst_Ssh::variablesAndNamesCannotSteerTheWrapper()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(4);
    // Names a shell script might use for itself, a value bash would evaluate, and IFS (which
    // the program's own shell resets; the wrapper must not split by it).
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sh");
    spec.arguments = { "-c", "printf '%s|' \"$e\" \"$n\" \"$d\" \"$w\" \"$PATH\"; pwd" };
    spec.progress = ProgressFormat::None;
    spec.workingDirectory = QStringLiteral("/tmp");
    spec.launcher = Launcher::ssh(target());
    const QByteArrayList sets = { "e=x[$(touch /tmp/offload-pwned)]", "n=x", "d=/home", "w=/",
        "IFS=0123456789", "PATH=/nonexistent:/usr/bin:/bin" };
    for (const QByteArray &kv : sets)
        spec.environment.insert(kv.left(kv.indexOf('=')), kv.mid(kv.indexOf('=') + 1));
    auto t = runner.run(this, spec);
    // A builtin's name runs the program of that name, as exec would find it.
    ProgramSpec echo;
    echo.program = QStringLiteral("echo");
    echo.arguments = { "-e", "a\\tb" };
    echo.progress = ProgressFormat::None;
    auto remoteEcho = runner.run(this, [&] {
        ProgramSpec s = echo;
        s.launcher = Launcher::ssh(target());
        return s;
    }());
    auto localEcho = runner.run(this, echo);
    // A bare name is looked up in the spec's PATH, split by ':' whatever its IFS.
    QTemporaryDir tools(QStringLiteral("/tmp/offload-path-XXXXXX"));
    QVERIFY(QFile::setPermissions(
        tools.path(), QFile::permissions(tools.path()) | QFile::ReadOther | QFile::ExeOther));
    QFile tool(tools.filePath(QStringLiteral("offload-tool")));
    QVERIFY(tool.open(QIODevice::WriteOnly));
    tool.write("#!/bin/sh\necho \"tool $*\"\n");
    tool.close();
    QVERIFY(tool.setPermissions(
        tool.permissions() | QFile::ExeOwner | QFile::ReadOther | QFile::ExeOther));
    ProgramSpec onPath;
    onPath.program = QStringLiteral("offload-tool");
    onPath.arguments = { "a", "b" };
    onPath.progress = ProgressFormat::None;
    onPath.environment.insert("IFS", "/");
    onPath.environment.insert(
        QByteArray("PATH"), QFile::encodeName(tools.path()) + ":/usr/bin:/bin");
    onPath.launcher = Launcher::ssh(target());
    auto found = runner.run(this, onPath);
    onPath.environment.insert("PATH", "/usr/bin:/bin");
    auto notFound = runner.run(this, onPath);
    // A variable of the wrapper's own is refused before anything runs.
    ProgramSpec reserved = spec;
    reserved.environment.insert("_offload_n", "x");
    auto refused = runner.run(this, reserved);
    for (auto *h : { &t, &remoteEcho, &localEcho, &refused, &found, &notFound })
        QTRY_VERIFY_WITH_TIMEOUT(h->isFinal(), 30000);
    QCOMPARE(found.state(), TaskState::Finished);
    QCOMPARE(found.result().stdoutText, QByteArray("tool a b\n"));
    QCOMPARE(notFound.state(), TaskState::Failed);
    QCOMPARE(notFound.error().remoteFailure, RemoteFailure::ProgramMissing);
    QCOMPARE(t.state(), TaskState::Finished);
    QCOMPARE(t.result().stdoutText,
        QByteArray("x[$(touch /tmp/offload-pwned)]|x|/home|/|"
                   "/nonexistent:/usr/bin:/bin|/tmp\n"));
    QVERIFY(t.processInfo().pid > 0); // known although the run was short
    QCOMPARE(remoteEcho.state(), TaskState::Finished);
    QCOMPARE(remoteEcho.result().stdoutText, localEcho.result().stdoutText);
    QCOMPARE(refused.state(), TaskState::Failed);
    QCOMPARE(refused.error().kind, ErrorKind::InvalidInput);
}

void tst_Ssh::aDaemonHoldingTheStreamsDoesNotHoldTheRun()
{
    REQUIRE_TESTBED();
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/sh");
    spec.arguments = { "-c", "(setsid sleep 313 &); echo done" };
    spec.progress = ProgressFormat::None;
    spec.launcher = Launcher::ssh(target());
    auto t = runner.run(this, spec);
    // It ends long before the daemon would (its output stream is let go a moment after the
    // program's exit, as for a local run).
    QTRY_VERIFY_WITH_TIMEOUT(t.isFinal(), 20000);
    QCOMPARE(t.state(), TaskState::Finished);
    QCOMPARE(t.result().stdoutText, QByteArray("done\n"));
    // The escaped daemon is the program's own business; the test removes it.
    ProgramSpec kill;
    kill.program = QStringLiteral("/usr/bin/pkill");
    kill.arguments = { "-u", "offloadtest", "-f", "sleep 313" };
    kill.progress = ProgressFormat::None;
    auto k = runner.run(this, kill);
    QTRY_VERIFY_WITH_TIMEOUT(k.isFinal(), 20000);
    QTRY_COMPARE_WITH_TIMEOUT(countMatching(m_uid, "sleep 313"), 0, 10000);
}

QTEST_GUILESS_MAIN(tst_Ssh)
#include "tst_ssh.moc"
