// Specification of running foreign programs as tasks: progress formats, results, exit codes,
// crashes, launch errors, bounded output, cancellation of a whole process tree, timeouts and
// the parallel queue.
#include <offload/process/programrunner.h>

#include "../common/testsupport.h"
#include "processtestsupport.h"

#include <QFile>
#include <QJsonObject>
#include <QTest>

#include <csignal>
#include <cstring>

#include <sys/resource.h>
#include <unistd.h>

using namespace offload;
using namespace std::chrono_literals;

namespace {
ProgramSpec program(const QStringList &args, ProgressFormat format = ProgressFormat::Auto)
{
    return testProgramSpec(toArguments(args), format);
}
} // namespace

class tst_ProgramRunner : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void semModuleReportsProgressNameAndResults();
    void progressLinesGiveAJsonResult();
    void autoDetectsBothFormats();
    void rawModeSendsStdinAndReturnsStdout();
    void nonZeroExitFailsWithCodeAndStderrTail();
    void signalFailsWithKindCrash();
    void missingProgramIsALaunchError();
    void programStartsWithDefaultSignalDispositionsAndNoneBlocked();
    void invalidUtf8IsKeptAsBytesAndReplacedInText();
    void invalidJsonAfterCompleteIsAProtocolError();
    void hundredMegabytesWithoutNewlineStayBounded();
    void cancelKillsWholeProcessTree();
    void timeoutFailsWithKindTimeout();
    void niceValueHoldsInTheProgramsOwnSession();
    void queueRunsAtMostMaxParallelAndCancelsQueuedRuns();
};

void tst_ProgramRunner::semModuleReportsProgressNameAndResults()
{
    ProgramRunner runner;
    QObject context;
    QByteArray output;
    Progress last;
    auto run = runner.run(&context, program({ QStringLiteral("sem") }, ProgressFormat::Sem));
    run.onOutput([&](const OutputChunk &c) { output += c.data; });
    run.onProgress([&](const Progress &p) { last = p; });
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.state(), TaskState::Finished);
    QTRY_COMPARE_WITH_TIMEOUT(last.fraction(), 1.0, 10000);
    QCOMPARE(last.stage.name, QStringLiteral("TestFilter"));
    QCOMPARE(last.text, QStringLiteral("Counting"));
    const ProgramResult r = run.result();
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(r.semResults.value(QStringLiteral("count")), QStringLiteral("10"));
    QVERIFY(r.stdoutText.startsWith("step 1\n"));
    QVERIFY(!r.stdoutText.contains("filter-"));
    QTRY_VERIFY_WITH_TIMEOUT(output.contains("step 10"), 10000);
    QCOMPARE(run.kind(), QStringLiteral("program"));
}

void tst_ProgramRunner::progressLinesGiveAJsonResult()
{
    ProgramRunner runner;
    QObject context;
    auto run = runner.run(&context, program({ QStringLiteral("lines") }, ProgressFormat::Lines));
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.state(), TaskState::Finished);
    QCOMPARE(run.result().json.toObject().value(QStringLiteral("answer")).toInt(), 42);
    QCOMPARE(run.result().stdoutText, QByteArray("hello\n"));
    QCOMPARE(run.progress().fraction(), 1.0);
}

void tst_ProgramRunner::autoDetectsBothFormats()
{
    ProgramRunner runner;
    QObject context;
    auto sem = runner.run(&context, program({ QStringLiteral("sem") }));
    auto lines = runner.run(&context, program({ QStringLiteral("lines") }));
    QVERIFY(sem.waitForFinished(10s) && lines.waitForFinished(10s));
    QCOMPARE(sem.result().semResults.value(QStringLiteral("count")), QStringLiteral("10"));
    QCOMPARE(lines.result().json.toObject().value(QStringLiteral("answer")).toInt(), 42);
}

void tst_ProgramRunner::rawModeSendsStdinAndReturnsStdout()
{
    ProgramRunner runner;
    QObject context;
    auto spec = program({ QStringLiteral("raw") }, ProgressFormat::Raw);
    spec.stdinData = QByteArray("\x01\x02\x03 pickled", 10);
    auto run = runner.run(&context, spec);
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.state(), TaskState::Finished);
    QCOMPARE(
        run.result().raw, QByteArray("elkcip \x03\x02\x01", 10)); // the first 10 bytes, reversed
}

void tst_ProgramRunner::nonZeroExitFailsWithCodeAndStderrTail()
{
    ProgramRunner runner;
    QObject context;
    auto run = runner.run(&context, program({ QStringLiteral("exit"), QStringLiteral("3") }));
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.state(), TaskState::Failed);
    QCOMPARE(run.error().kind, ErrorKind::ExitCode);
    QCOMPARE(run.error().exitCode.value_or(-1), 3);
    QVERIFY(run.error().stderrTail.contains("something went wrong"));
}

void tst_ProgramRunner::signalFailsWithKindCrash()
{
    ProgramRunner runner;
    QObject context;
    auto run = runner.run(&context, program({ QStringLiteral("crash") }));
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.error().kind, ErrorKind::Crash);
    QCOMPARE(run.error().signal.value_or(-1), SIGSEGV);
}

void tst_ProgramRunner::invalidUtf8IsKeptAsBytesAndReplacedInText()
{
    ProgramRunner runner;
    QObject context;
    auto run = runner.run(&context, program({ QStringLiteral("badutf8") }, ProgressFormat::Sem));
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.state(), TaskState::Finished);
    const ProgramResult r = run.result();
    // Output is bytes: kept exactly, tags removed.
    QCOMPARE(r.stdoutText, QByteArray("text \xff\xfe with \xc3 broken bytes\n"));
    QCOMPARE(r.stderrText, QByteArray("\xff err\n"));
    // What becomes text (stage, comment, result names and values) has U+FFFD in place of the
    // bad bytes; the progress around them is still read.
    QTRY_COMPARE_WITH_TIMEOUT(run.progress().fraction(), 0.5, 10000);
    const Progress p = run.progress();
    QVERIFY(p.stage.name.startsWith(QStringLiteral("Bad"))
        && p.stage.name.endsWith(QStringLiteral(" Name")));
    QVERIFY(p.stage.name.contains(QChar::ReplacementCharacter));
    QVERIFY(
        p.text.startsWith(QStringLiteral("caf")) && p.text.contains(QChar::ReplacementCharacter));
    QCOMPARE(r.semResults.size(), 1);
    QVERIFY(r.semResults.firstKey().contains(QChar::ReplacementCharacter));
    QVERIFY(r.semResults.first().contains(QChar::ReplacementCharacter));
}

static void countSignal(int) { }

// What this process ignores or blocks must not reach the program: an ignored SIGPIPE or
// SIGTERM would change how it ends. /bin/cat prints its own view of that.
void tst_ProgramRunner::programStartsWithDefaultSignalDispositionsAndNoneBlocked()
{
    struct sigaction ignore
    {
    }, catching {}, oldIgnore {}, oldCatching {};
    ignore.sa_handler = SIG_IGN;
    catching.sa_handler = countSignal;
    QCOMPARE(::sigaction(SIGUSR1, &ignore, &oldIgnore), 0);
    QCOMPARE(::sigaction(SIGUSR2, &catching, &oldCatching), 0);
    ProgramRunner runner;
    QObject context;
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/cat");
    spec.arguments = { QByteArrayLiteral("/proc/self/status") };
    spec.progress = ProgressFormat::None;
    auto run = runner.run(&context, spec);
    const bool finished = run.waitForFinished(10s);
    ::sigaction(SIGUSR1, &oldIgnore, nullptr);
    ::sigaction(SIGUSR2, &oldCatching, nullptr);
    QVERIFY(finished);
    QCOMPARE(run.state(), TaskState::Finished);
    const QByteArray status = run.result().stdoutText;
    // SigBlk: the supervisor thread that starts programs blocks SIGPIPE. (SigCgt needs no
    // check: exec resets every caught signal.)
    for (const char *field : { "SigBlk:", "SigIgn:" }) {
        const qsizetype at = status.indexOf(field);
        QVERIFY2(at >= 0, field);
        const QByteArray mask = status.mid(at + qsizetype(std::strlen(field))).split('\n').first();
        bool ok = false;
        const qulonglong value = mask.trimmed().toULongLong(&ok, 16);
        QVERIFY2(ok && value == 0, (field + mask).constData());
    }
}

void tst_ProgramRunner::missingProgramIsALaunchError()
{
    ProgramRunner runner;
    QObject context;
    ProgramSpec spec;
    spec.program = QStringLiteral("/nonexistent/module");
    auto run = runner.run(&context, spec);
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.error().kind, ErrorKind::Launch);
    QVERIFY(run.error().message.contains(QStringLiteral("/nonexistent/module")));
}

void tst_ProgramRunner::invalidJsonAfterCompleteIsAProtocolError()
{
    ProgramRunner runner;
    QObject context;
    auto run = runner.run(&context, program({ QStringLiteral("badjson") }, ProgressFormat::Lines));
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.error().kind, ErrorKind::Protocol);
    // The bytes that did not parse are kept as the program's output, not lost.
    QVERIFY(run.error().partial.value<ProgramResult>().stdoutText.contains("this is not json"));
}

void tst_ProgramRunner::hundredMegabytesWithoutNewlineStayBounded()
{
    ProgramRunner runner;
    QObject context;
    auto run = runner.run(&context, program({ QStringLiteral("flood"), QStringLiteral("100") }));
    QVERIFY(run.waitForFinished(60s));
    QCOMPARE(run.state(), TaskState::Finished);
    const ProgramResult r = run.result();
    QCOMPARE(r.stdoutText.size(), qsizetype(1 << 20)); // the newest 1 MiB is kept
    QCOMPARE(r.droppedStdout, (qint64(100) << 20) - (1 << 20));
}

void tst_ProgramRunner::cancelKillsWholeProcessTree()
{
    ProgramRunner runner;
    QObject context;
    auto run = runner.run(&context, program({ QStringLiteral("grandchild") }));
    QByteArray err;
    run.onOutput([&](const OutputChunk &c) {
        if (c.stream == OutputChunk::Stderr)
            err += c.data;
    });
    QTRY_VERIFY_WITH_TIMEOUT(err.contains("grandchild"), 10000);
    QTRY_VERIFY_WITH_TIMEOUT(run.progress().fraction() > 0, 10000);
    const qint64 grandchild = err.mid(err.indexOf("grandchild ") + 11).trimmed().toLongLong();
    QVERIFY(processExists(grandchild));
    run.cancel();
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.state(), TaskState::Cancelled);
    const qint64 valueAtEnd = run.progress().value;
    QTest::qWait(50); // nothing more may arrive after the end
    QCOMPARE(run.progress().value, valueAtEnd);
    QTRY_VERIFY_WITH_TIMEOUT(!processExists(grandchild), 10000);
}

// A program runs in a session of its own (setsid). Where the kernel groups scheduling by
// session (autogroup), a nice value counts only within the group: the group itself must be
// niced too, or a niced program still takes a core's share from the GUI.
void tst_ProgramRunner::niceValueHoldsInTheProgramsOwnSession()
{
    ProgramRunner runner;
    QObject context;
    ProgramSpec spec = program({ QStringLiteral("priority") });
    spec.niceness = 7;
    const int own = ::getpriority(PRIO_PROCESS, 0);
    auto run = runner.run(&context, spec);
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.state(), TaskState::Finished);
    const QByteArray out = run.result().stdoutText;
    const int expected = std::min(19, own + 7);
    QVERIFY2(out.startsWith("nice " + QByteArray::number(expected) + "\n"), out.constData());
    QFile enabled(QStringLiteral("/proc/sys/kernel/sched_autogroup_enabled"));
    if (!out.contains("autogroup ") || !enabled.open(QIODevice::ReadOnly)
        || enabled.readAll().trimmed() != "1")
        QSKIP("this kernel does not group scheduling by session");
    if (::geteuid() != 0)
        QSKIP("as a user, the kernel may refuse an autogroup's nice (once per 100 ms at most)");
    QVERIFY2(out.contains(" nice " + QByteArray::number(expected) + "\n"), out.constData());
}

void tst_ProgramRunner::timeoutFailsWithKindTimeout()
{
    ProgramRunner runner;
    QObject context;
    auto spec = program({ QStringLiteral("sleep"), QStringLiteral("60000") });
    spec.timeout = 200ms;
    auto run = runner.run(&context, spec);
    QVERIFY(run.waitForFinished(10s));
    QCOMPARE(run.error().kind, ErrorKind::Timeout);
}

void tst_ProgramRunner::queueRunsAtMostMaxParallelAndCancelsQueuedRuns()
{
    ProgramRunner runner(2);
    QObject context;
    std::vector<TaskHandle<ProgramResult>> runs;
    for (int i = 0; i < 4; ++i)
        runs.push_back(
            runner.run(&context, program({ QStringLiteral("sleep"), QStringLiteral("300") })));
    QTRY_COMPARE_WITH_TIMEOUT(runs[1].state(), TaskState::Running, 10000);
    QCOMPARE(runs[2].state(), TaskState::Queued);
    QCOMPARE(runs[3].state(), TaskState::Queued);
    runs[3].cancel();
    QCOMPARE(runs[3].state(), TaskState::Cancelled);
    for (int i = 0; i < 3; ++i) {
        QVERIFY(runs[size_t(i)].waitForFinished(10s));
        QCOMPARE(runs[size_t(i)].state(), TaskState::Finished);
    }
}

QTEST_GUILESS_MAIN(tst_ProgramRunner)
#include "tst_programrunner.moc"
