// The offload command-line tool, run as a user would: JSON events, exit codes, Ctrl-C/SIGTERM
// cancelling the process tree, describe, module (return parameters, partial), batch.
#include "../process/processtestsupport.h"

#include <QCoreApplication>
#include <QFile>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QtTest>

#include <csignal>

#include <sys/stat.h>

namespace {

struct CliRun
{
    int exitCode = -1;
    QList<QJsonObject> events;
    QByteArray out, err;
    QJsonObject last() const { return events.isEmpty() ? QJsonObject() : events.last(); }
};

QList<QJsonObject> parseEvents(const QByteArray &out)
{
    QList<QJsonObject> events;
    for (const QByteArray &line : out.split('\n'))
        if (!line.isEmpty())
            events << QJsonDocument::fromJson(line).object();
    return events;
}

// A run that does not end within waitMs is killed and reported with exit code -1.
CliRun runProcess(
    const QString &program, const QStringList &args, const QByteArray &stdinData, int waitMs)
{
    QProcess p;
    p.start(program, args);
    CliRun r;
    if (!p.waitForStarted(10000))
        return r;
    p.write(stdinData);
    p.closeWriteChannel();
    if (!p.waitForFinished(waitMs)) {
        p.kill();
        p.waitForFinished(5000);
        return r;
    }
    r.exitCode = p.exitStatus() == QProcess::NormalExit ? p.exitCode() : -1;
    r.out = p.readAllStandardOutput();
    r.err = p.readAllStandardError();
    r.events = parseEvents(r.out);
    return r;
}

CliRun runTool(const QStringList &args, const QByteArray &stdinData = {}, int waitMs = 60000)
{
    return runProcess(binPath("offload"), args, stdinData, waitMs);
}

} // namespace

class tst_Cli : public QObject
{
    Q_OBJECT
    QTemporaryDir m_dir;

private Q_SLOTS:
    void runJsonEventsAndResult();
    void runExitCodeFollowsTheProgram_data();
    void runExitCodeFollowsTheProgram();
    void runRawPassesStdinAndReturnsStdout();
    void runJsonWithInvalidUtf8StaysValidJson();
    void runPassesEveryByteToASlowReader();
    void runPassesArgumentBytesExactly();
    void batchLinesKeepTheirBytes();
    void runRawStreamsStdinWithoutWaitingForItsEnd();
    void runRawJsonCarriesTheBytesAsBase64();
    void runJsonKeepsACharacterSplitAcrossReadsAndBinaryBytes();
    void closedStandardDescriptorsAreNotHandedToPrograms();
    void sigtermCancelsTheWholeTree();
    void describeJson();
    void describeBadXmlFile();
    void moduleReturnParameters();
    void modulePartialReturnParametersAfterFailure();
    void moduleInvalidValueNamesTheParameter();
    void moduleReadsAParameterFileUnderTheCommandLine();
    void batchRunsAllAndSummarises();
    void usageErrors();
    void describeFifoIsAnErrorNotAHang();
    void describeOversizeFileIsRefused();
    void describeDeeplyNestedOrEntityXmlIsAnErrorNotACrash();
    void moduleRepeatedParameterIsAUsageError();
    void moduleNonFiniteValueIsRejected();
    void timeoutMustBeAFiniteNonNegativeNumber_data();
    void timeoutMustBeAFiniteNonNegativeNumber();
    void tinyPositiveTimeoutStillTimesOut();
    void batchFailureEchoesABoundedLineWithItsNumber();
    void batchLineWithANulByteIsAnErrorNamingTheLine();
};

void tst_Cli::runJsonEventsAndResult()
{
    const CliRun r = runTool(
        { "run", "--json", "--progress", "lines", "--", binPath("testprogram"), "lines" });
    QCOMPARE(r.exitCode, 0);
    QVERIFY(!r.events.isEmpty());
    bool sawProgress = false, sawOutput = false;
    for (const QJsonObject &e : r.events) {
        sawProgress |= e["event"] == "progress" && e["value"].isDouble();
        sawOutput |= e["event"] == "output" && e["stream"] == "stdout";
    }
    QVERIFY(sawProgress);
    QVERIFY(sawOutput);
    QCOMPARE(r.last()["event"].toString(), QStringLiteral("finished"));
    QCOMPARE(r.last()["state"].toString(), QStringLiteral("Finished"));
    QCOMPARE(r.last()["exitCode"].toInt(), 0);
    QCOMPARE(r.last()["result"].toObject()["answer"].toInt(), 42);
    QVERIFY(r.last()["error"].isNull());
}

void tst_Cli::runExitCodeFollowsTheProgram_data()
{
    QTest::addColumn<QStringList>("args");
    QTest::addColumn<int>("exitCode");
    QTest::addColumn<QString>("kind");
    QTest::newRow("exit 7") << QStringList { binPath("testprogram"), "exit", "7" } << 7
                            << "exit code";
    QTest::newRow("crash") << QStringList { binPath("testprogram"), "crash" } << 128 + SIGSEGV
                           << "crash";
    QTest::newRow("missing") << QStringList { m_dir.filePath("missing-program") } << 127
                             << "launch";
    QTest::newRow("timeout") << QStringList { "--timeout", "0.2", "--", binPath("testprogram"),
        "sleep", "60000" } << 124
                             << "timeout";
}

void tst_Cli::runExitCodeFollowsTheProgram()
{
    QFETCH(QStringList, args);
    QFETCH(int, exitCode);
    QFETCH(QString, kind);
    QStringList all { "run", "--json" };
    if (!args.contains("--"))
        all << "--";
    const CliRun r = runTool(all + args);
    QCOMPARE(r.exitCode, exitCode);
    QCOMPARE(r.last()["state"].toString(), QStringLiteral("Failed"));
    QCOMPARE(r.last()["error"].toObject()["kind"].toString(), kind);
}

void tst_Cli::runRawPassesStdinAndReturnsStdout()
{
    const CliRun r = runTool(
        { "run", "--progress", "raw", "--", binPath("testprogram"), "raw" }, "abc\x01\xff");
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(r.out,
        QByteArray("\xff\x01"
                   "cba"));
}

// A shell pipeline, for what a user types: the tool at $0.
static CliRun runShell(const QString &script, int waitMs = 60000)
{
    return runProcess(QStringLiteral("/bin/sh"),
        { QStringLiteral("-c"), script, binPath("offload") }, {}, waitMs);
}

void tst_Cli::runPassesEveryByteToASlowReader()
{
    // The reader starts late, so the pipe fills and the tool waits on it: the output that
    // piles up meanwhile must wait too, not be dropped (it was: 1 MiB kept, the rest lost).
    const CliRun r = runShell(QStringLiteral("\"$0\" run -- '%1' flood 32 | { sleep 1; wc -c; }")
                                  .arg(binPath("testprogram")));
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(r.out.trimmed(), QByteArray::number(32 << 20));
    QVERIFY2(!r.err.contains("lost"), r.err.constData());
}

void tst_Cli::runPassesArgumentBytesExactly()
{
    // printf %s with an argument that is not UTF-8 prints it back byte for byte.
    const CliRun r
        = runShell(QStringLiteral("exec \"$0\" run -- printf %s \"$(printf 'a\\377\\376b')\""));
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(r.out,
        QByteArray("a\xff\xfe"
                   "b"));
}

void tst_Cli::batchLinesKeepTheirBytes()
{
    const QString out = m_dir.filePath(QStringLiteral("batch-bytes.out"));
    QFile file(m_dir.filePath(QStringLiteral("bytes.batch")));
    QVERIFY(file.open(QIODevice::WriteOnly));
    file.write(
        "/bin/sh -c 'printf %s \"$1\" > \"$2\"' sh 'x\xffy' " + QFile::encodeName(out) + "\n");
    file.close();
    const CliRun r = runTool({ "batch", file.fileName() });
    QCOMPARE(r.exitCode, 0);
    QFile written(out);
    QVERIFY(written.open(QIODevice::ReadOnly));
    QCOMPARE(written.readAll(), QByteArray("x\xffy"));
}

void tst_Cli::runRawStreamsStdinWithoutWaitingForItsEnd()
{
    // The program starts and answers while our end of its stdin is still open.
    QProcess p;
    p.start(binPath("offload"),
        { "run", "--progress", "raw", "--", "/bin/sh", "-c", "echo started; exec cat" });
    QVERIFY(p.waitForStarted(10000));
    QByteArray out;
    QTRY_VERIFY_WITH_TIMEOUT((out += p.readAllStandardOutput()).contains("started\n"), 10000);
    p.write("streamed\n");
    QTRY_VERIFY_WITH_TIMEOUT((out += p.readAllStandardOutput()).contains("streamed\n"), 10000);
    p.closeWriteChannel();
    QVERIFY(p.waitForFinished(10000));
    QCOMPARE(p.exitCode(), 0);
    QCOMPARE(out + p.readAllStandardOutput(), QByteArray("started\nstreamed\n"));
}

void tst_Cli::runRawJsonCarriesTheBytesAsBase64()
{
    const CliRun r
        = runTool({ "run", "--json", "--progress", "raw", "--", binPath("testprogram"), "raw" },
            "abc\x01\xff");
    QCOMPARE(r.exitCode, 0);
    QByteArray bytes;
    for (const QJsonObject &e : r.events)
        if (e.value("event").toString() == QLatin1String("output") && e.contains("base64"))
            bytes += QByteArray::fromBase64(e.value("base64").toString().toLatin1());
    QCOMPARE(bytes,
        QByteArray("\xff\x01"
                   "cba"));
    QCOMPARE(r.last().value("state").toString(), QStringLiteral("Finished"));
}

// Every output event's bytes, concatenated: "text" as UTF-8, "base64" decoded.
static QByteArray outputBytes(const QByteArray &jsonLines)
{
    QByteArray bytes;
    for (const QJsonObject &e : parseEvents(jsonLines)) {
        if (e.value("event").toString() != QLatin1String("output"))
            continue;
        bytes += e.contains("base64")
            ? QByteArray::fromBase64(e.value("base64").toString().toLatin1())
            : e.value("text").toString().toUtf8();
    }
    return bytes;
}

void tst_Cli::runJsonKeepsACharacterSplitAcrossReadsAndBinaryBytes()
{
    // "é" (C3 A9) written in two halves, 300 ms apart, so that they are read separately.
    CliRun r = runShell(QStringLiteral("exec \"$0\" run --json --progress none -- sh -c \"printf "
                                       "'caf\\303'; sleep 0.3; printf '\\251 ok\\n'\""));
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(outputBytes(r.out), QByteArray("caf\xc3\xa9 ok\n"));
    QVERIFY2(!r.out.contains("base64"), r.out.constData()); // valid text stays text
    r = runShell(QStringLiteral("exec \"$0\" run --json --progress none -- printf '\\377\\376x'"));
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(outputBytes(r.out), QByteArray("\xff\xfex")); // not U+FFFD: the bytes
}

void tst_Cli::closedStandardDescriptorsAreNotHandedToPrograms()
{
    // A closed stdin reads as empty (not as one of Offload's own descriptors).
    CliRun r = runShell(QStringLiteral("exec \"$0\" run --progress raw -- cat <&-"));
    QCOMPARE(r.exitCode, 0);
    QCOMPARE(r.out, QByteArray());
    QVERIFY2(r.err.isEmpty(), r.err.constData());
    // A closed stdout would lose every byte: refused.
    r = runShell(QStringLiteral("exec \"$0\" run -- echo hello >&-"));
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("standard output is closed"), r.err.constData());
}

void tst_Cli::runJsonWithInvalidUtf8StaysValidJson()
{
    const CliRun r = runTool({ "run", "--json", "--", binPath("testprogram"), "badutf8" });
    QCOMPARE(r.exitCode, 0);
    for (const QByteArray &line : r.out.split('\n')) {
        if (line.isEmpty())
            continue;
        QJsonParseError error;
        const QJsonDocument doc = QJsonDocument::fromJson(line, &error);
        QVERIFY2(error.error == QJsonParseError::NoError, line.constData());
    }
    // Output that is not UTF-8 arrives as its bytes (base64), not with replacement characters.
    QVERIFY(outputBytes(r.out).contains("text \xff\xfe with \xc3 broken bytes"));
    QCOMPARE(r.last().value("state").toString(), QStringLiteral("Finished"));
}

void tst_Cli::sigtermCancelsTheWholeTree()
{
    QProcess p;
    p.start(binPath("offload"), { "run", "--json", "--", binPath("testprogram"), "grandchild" });
    QVERIFY(p.waitForStarted(10000));
    QByteArray err, out;
    QDeadlineTimer deadline(20000);
    while (!out.contains("\"event\":\"progress\"") || !out.contains("grandchild ")) {
        QVERIFY2(!deadline.hasExpired(), out.constData());
        p.waitForReadyRead(100);
        out += p.readAllStandardOutput();
        err += p.readAllStandardError();
    }
    // the grandchild's pid arrives as a stderr output event of the JSON stream
    QVERIFY(out.contains("grandchild "));
    const int at = out.indexOf("grandchild ") + 11;
    const qint64 grandchild = out.mid(at, out.indexOf('\\', at) - at).toLongLong();
    QVERIFY(grandchild > 0);
    QVERIFY(processExists(grandchild));
    ::kill(pid_t(p.processId()), SIGTERM);
    QVERIFY(p.waitForFinished(10000));
    out += p.readAllStandardOutput();
    QCOMPARE(p.exitCode(), 128 + SIGTERM);
    QCOMPARE(parseEvents(out).last()["state"].toString(), QStringLiteral("Cancelled"));
    QTRY_VERIFY_WITH_TIMEOUT(!processExists(grandchild), 10000);
}

void tst_Cli::describeJson()
{
    const CliRun r = runTool({ "describe", binPath("offload-example-blur"), "--json" });
    QCOMPARE(r.exitCode, 0);
    const QJsonObject m = r.last()["module"].toObject();
    QCOMPARE(m["title"].toString(), QStringLiteral("Synthetic Blur"));
    QCOMPARE(m["source"].toString(), binPath("offload-example-blur.xml"));
    const QJsonArray params = m["groups"].toArray()[0].toObject()["parameters"].toArray();
    QCOMPARE(params[0].toObject()["name"].toString(), QStringLiteral("iterations"));
    QCOMPARE(params[0].toObject()["maximum"].toInt(), 100000);

    const CliRun text = runTool({ "describe", binPath("offload-example-blur.xml") });
    QCOMPARE(text.exitCode, 0);
    QVERIFY(text.out.contains("--iterations"));
    QVERIFY(text.out.contains("(returns) checksum"));
}

void tst_Cli::describeBadXmlFile()
{
    QFile xml(m_dir.filePath("bad.xml"));
    QVERIFY(xml.open(QIODevice::WriteOnly));
    xml.write("<?xml version=\"1.0\"?>\n<executable>\n  <parameters>\n</executable>\n");
    xml.close();
    const CliRun r = runTool({ "describe", xml.fileName() });
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("bad.xml:4:"), r.err.constData());
}

void tst_Cli::moduleReturnParameters()
{
    const QString summary = m_dir.filePath("summary.txt");
    const CliRun r = runTool({ "module", binPath("offload-example-blur"), "--iterations", "40",
        "--method", "box", "--summary", summary, "--json" });
    QCOMPARE(r.exitCode, 0);
    const QJsonObject result = r.last()["result"].toObject();
    QCOMPARE(result["partial"].toBool(), false);
    QVERIFY(result["returnParameters"].toObject()["checksum"].isDouble());
    QCOMPARE(result["returnParameters"].toObject()["status"].toString(), QStringLiteral("ok"));
    QVERIFY(QFile::exists(summary));

    const CliRun text
        = runTool({ "module", binPath("offload-example-blur"), "--summary", summary });
    QCOMPARE(text.exitCode, 0);
    QVERIFY2(text.out.contains("status = ok\n"), text.out.constData());
}

void tst_Cli::moduleReadsAParameterFileUnderTheCommandLine()
{
    const QString summary = m_dir.filePath("p-summary.txt");
    const auto checksum = [](const CliRun &r) {
        return r.last()["result"].toObject()["returnParameters"].toObject()["checksum"].toDouble();
    };
    const CliRun direct40 = runTool({ "module", binPath("offload-example-blur"), "--iterations",
        "40", "--method", "box", "--summary", summary, "--json" });
    const CliRun direct41 = runTool({ "module", binPath("offload-example-blur"), "--iterations",
        "41", "--method", "box", "--summary", summary, "--json" });
    QCOMPARE(direct40.exitCode, 0);
    QCOMPARE(direct41.exitCode, 0);
    QVERIFY(checksum(direct40) != checksum(direct41));

    QFile params(m_dir.filePath("params.json"));
    QVERIFY(params.open(QIODevice::WriteOnly));
    params.write(QJsonDocument(QJsonObject { { "iterations", 40 }, { "method", "box" },
                                   { "summary", summary }, { "sigma", QJsonValue::Null } })
                     .toJson());
    params.close();
    const CliRun fromFile = runTool(
        { "module", binPath("offload-example-blur"), "--params", params.fileName(), "--json" });
    QCOMPARE(fromFile.exitCode, 0);
    QCOMPARE(checksum(fromFile), checksum(direct40));
    const CliRun overridden = runTool({ "module", binPath("offload-example-blur"), "--params",
        params.fileName(), "--iterations", "41", "--json" });
    QCOMPARE(overridden.exitCode, 0);
    QCOMPARE(checksum(overridden), checksum(direct41));

    // A file that cannot be read or is not a parameter file: a usage error naming it.
    const CliRun missing = runTool(
        { "module", binPath("offload-example-blur"), "--params", m_dir.filePath("nope.json") });
    QCOMPARE(missing.exitCode, 2);
    QVERIFY2(missing.err.contains("nope.json"), missing.err.constData());
    QFile bad(m_dir.filePath("bad.json"));
    QVERIFY(bad.open(QIODevice::WriteOnly));
    bad.write("[1, 2]");
    bad.close();
    const CliRun notObject
        = runTool({ "module", binPath("offload-example-blur"), "--params", bad.fileName() });
    QCOMPARE(notObject.exitCode, 2);
    QVERIFY2(notObject.err.contains("one JSON object"), notObject.err.constData());
}

void tst_Cli::modulePartialReturnParametersAfterFailure()
{
    const CliRun r = runTool({ "module", binPath("offload-example-blur"), "--fail", "--summary",
        m_dir.filePath("s.txt"), "--json" });
    QCOMPARE(r.exitCode, 3);
    QCOMPARE(r.last()["state"].toString(), QStringLiteral("Failed"));
    const QJsonObject result = r.last()["result"].toObject();
    QCOMPARE(result["partial"].toBool(), true);
    QCOMPARE(result["returnParameters"].toObject()["status"].toString(),
        QStringLiteral("failed on request"));
}

void tst_Cli::moduleInvalidValueNamesTheParameter()
{
    const CliRun r = runTool({ "module", binPath("offload-example-blur"), "--iterations", "-4",
        "--summary", m_dir.filePath("x.txt") });
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("iterations"), r.err.constData());
    QVERIFY(!QFile::exists(m_dir.filePath("x.txt")));
}

void tst_Cli::batchRunsAllAndSummarises()
{
    QFile list(m_dir.filePath("batch.txt"));
    QVERIFY(list.open(QIODevice::WriteOnly));
    for (int i = 0; i < 4; ++i)
        list.write(QStringLiteral("%1 --iterations 30 '%2'\n")
                       .arg(binPath("offload-example-blur"),
                           m_dir.filePath(QStringLiteral("b %1.txt").arg(i)))
                       .toUtf8());
    list.write("# a comment, then a failing line\n\n");
    list.write(QStringLiteral("%1 exit 5\n").arg(binPath("testprogram")).toUtf8());
    list.close();
    const CliRun r = runTool({ "batch", "-j", "2", "--json", list.fileName() });
    QCOMPARE(r.exitCode, 1);
    const QJsonObject summary = r.last();
    QCOMPARE(summary["event"].toString(), QStringLiteral("summary"));
    QCOMPARE(summary["runs"].toInt(), 5);
    QCOMPARE(summary["finished"].toInt(), 4);
    QCOMPARE(summary["failed"].toInt(), 1);
    for (int i = 0; i < 4; ++i)
        QVERIFY(QFile::exists(
            m_dir.filePath(QStringLiteral("b %1.txt").arg(i)))); // quoting kept the space

    const CliRun text = runTool({ "batch", list.fileName() });
    QCOMPARE(text.exitCode, 1);
    QVERIFY2(text.err.contains("5 runs: 4 finished, 1 failed"), text.err.constData());
}

void tst_Cli::usageErrors()
{
    QCOMPARE(runTool({}).exitCode, 2);
    QCOMPARE(runTool({ "frobnicate" }).exitCode, 2);
    QCOMPARE(runTool({ "run" }).exitCode, 2);
    QCOMPARE(runTool({ "run", "--progress", "nope", "--", "true" }).exitCode, 2);
    QCOMPARE(runTool({ "batch", "-j", "0", "x" }).exitCode, 2);
    QCOMPARE(runTool({ "module", binPath("offload-example-blur"), "stray" }).exitCode, 2);
}

void tst_Cli::describeFifoIsAnErrorNotAHang()
{
    const QString fifo = m_dir.filePath("pipe.xml");
    QVERIFY(::mkfifo(QFile::encodeName(fifo).constData(), 0600) == 0);
    const CliRun r = runTool({ "describe", fifo }, {}, 20000);
    QFile::remove(fifo);
    QCOMPARE(r.exitCode, 1); // -1: it hung on the FIFO and was killed
    QVERIFY2(r.err.contains("pipe.xml") && r.err.contains("FIFO"), r.err.constData());
}

void tst_Cli::describeOversizeFileIsRefused()
{
    QFile xml(m_dir.filePath("huge.xml"));
    QVERIFY(xml.open(QIODevice::WriteOnly));
    xml.write("<?xml version=\"1.0\"?>\n<executable><title>Huge</title><description>");
    QVERIFY(xml.resize(qint64(16) << 20 | 1)); // sparse; one byte more than descriptions may have
    xml.close();
    const CliRun r = runTool({ "describe", xml.fileName() });
    xml.remove();
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.contains("huge.xml") && r.err.contains(QByteArray::number(16 << 20)),
        r.err.constData());
}

void tst_Cli::describeDeeplyNestedOrEntityXmlIsAnErrorNotACrash()
{
    QFile deep(m_dir.filePath("deep.xml"));
    QVERIFY(deep.open(QIODevice::WriteOnly));
    deep.write("<?xml version=\"1.0\"?>\n<executable><title>T</title>\n<description>"
        + QByteArray("<b>").repeated(60000) + QByteArray("</b>").repeated(60000)
        + "</description></executable>\n");
    deep.close();
    const CliRun r = runTool({ "describe", deep.fileName() });
    QCOMPARE(r.exitCode, 1); // not a crash
    QVERIFY2(r.err.contains("deep.xml:3:") && r.err.contains("nested"), r.err.constData());

    QFile entities(m_dir.filePath("entities.xml"));
    QVERIFY(entities.open(QIODevice::WriteOnly));
    entities.write("<?xml version=\"1.0\"?>\n<!DOCTYPE executable [<!ENTITY a \""
        + QByteArray("ha").repeated(2000) + "\">]>\n<executable><title>T</title><description>"
        + QByteArray("&a;").repeated(1000) + "</description></executable>\n");
    entities.close();
    const CliRun e = runTool({ "describe", entities.fileName() });
    QCOMPARE(e.exitCode, 1);
    QVERIFY2(e.err.contains("entities.xml:") && e.err.contains("entit"), e.err.constData());
}

void tst_Cli::moduleRepeatedParameterIsAUsageError()
{
    const QString summary = m_dir.filePath("twice.txt");
    const CliRun r = runTool({ "module", binPath("offload-example-blur"), "--iterations", "5",
        "--iterations", "6", "--summary", summary });
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("--iterations"), r.err.constData());
    QVERIFY(!QFile::exists(summary));
}

void tst_Cli::moduleNonFiniteValueIsRejected()
{
    const QString summary = m_dir.filePath("nan.txt");
    const CliRun r = runTool(
        { "module", binPath("offload-example-blur"), "--sigma", "nan", "--summary", summary });
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("sigma"), r.err.constData());
    QVERIFY(!QFile::exists(summary));
}

void tst_Cli::timeoutMustBeAFiniteNonNegativeNumber_data()
{
    QTest::addColumn<QString>("timeout");
    for (const char *t : { "nan", "inf", "-inf", "infinity", "-1", "-0.0001", "soon" })
        QTest::newRow(t) << QString::fromLatin1(t);
}

void tst_Cli::timeoutMustBeAFiniteNonNegativeNumber()
{
    QFETCH(QString, timeout);
    const CliRun r
        = runTool({ "run", "--timeout", timeout, "--", binPath("testprogram"), "exit", "0" });
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("--timeout"), r.err.constData());
    const CliRun m = runTool({ "module", binPath("offload-example-blur"), "--timeout", timeout,
        "--summary", m_dir.filePath("t.txt") });
    QCOMPARE(m.exitCode, 2);
    QVERIFY(!QFile::exists(m_dir.filePath("t.txt")));
}

void tst_Cli::tinyPositiveTimeoutStillTimesOut()
{
    // 0.0001 s is less than a millisecond: it is rounded up to one, never to "no timeout".
    const CliRun r = runTool(
        { "run", "--json", "--timeout", "0.0001", "--", binPath("testprogram"), "sleep", "30000" },
        {}, 20000);
    QCOMPARE(r.exitCode, 124);
    QCOMPARE(r.last()["error"].toObject()["kind"].toString(), QStringLiteral("timeout"));
}

void tst_Cli::batchFailureEchoesABoundedLineWithItsNumber()
{
    QFile list(m_dir.filePath("long.txt"));
    QVERIFY(list.open(QIODevice::WriteOnly));
    list.write("# a comment\n");
    list.write(QStringLiteral("%1 exit 5 ").arg(binPath("testprogram")).toUtf8()
        + QByteArray(100000, 'x') + "\n");
    list.close();
    const CliRun r = runTool({ "batch", list.fileName() });
    QCOMPARE(r.exitCode, 1);
    QVERIFY2(r.err.size() < 2000, r.err.left(400).constData());
    QVERIFY2(r.err.contains("line 2") && r.err.contains("xxx\u2026"), r.err.constData());
}

void tst_Cli::batchLineWithANulByteIsAnErrorNamingTheLine()
{
    const QString marker = m_dir.filePath("nul-ran.txt");
    QFile list(m_dir.filePath("nul.txt"));
    QVERIFY(list.open(QIODevice::WriteOnly));
    list.write(QStringLiteral("%1 --iterations 5 ").arg(binPath("offload-example-blur")).toUtf8());
    list.write(QFile::encodeName(marker) + QByteArray("\0tail", 5) + "\n");
    list.close();
    const CliRun r = runTool({ "batch", list.fileName() });
    QCOMPARE(r.exitCode, 2);
    QVERIFY2(r.err.contains("nul.txt:1:") && r.err.contains("NUL"), r.err.constData());
    QVERIFY(!QFile::exists(marker)); // nothing ran with a silently cut argument
}

QTEST_GUILESS_MAIN(tst_Cli)
#include "tst_cli.moc"
