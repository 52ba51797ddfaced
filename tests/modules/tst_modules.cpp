// ModuleRunner: discovery (sidecar, --xml, banners, hangs, garbage, retry), validated runs,
// return parameters (typed, partial after a failed exit, missing file, private directory).
#include "../common/testsupport.h"
#include "../process/processtestsupport.h"

#include <offload/modules/modulerunner.h>

#include <QFile>
#include <QFileInfo>
#include <QTemporaryDir>
#include <QtTest>

#include <future>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace offload;
using namespace std::chrono_literals;

class tst_Modules : public QObject
{
    Q_OBJECT

private:
    // A symlink to testmodule under the given name, in a fresh directory.
    QString testModule(const QString &name)
    {
        const QString link = m_dir.filePath(name);
        QFile::remove(link);
        QFile::link(binPath("testmodule"), link);
        return link;
    }
    Module describeOk(ModuleRunner &runner, const QString &path)
    {
        auto task = runner.describe(&m_context, path);
        [&] { QVERIFY(task.waitForFinished(20s)); }();
        if (task.state() != TaskState::Finished)
            qWarning() << task.error().summary();
        [&] { QCOMPARE(task.state(), TaskState::Finished); }();
        return task.state() == TaskState::Finished ? task.result() : Module {};
    }
    QTemporaryDir m_dir;
    QObject m_context;

private Q_SLOTS:
    void describeReadsTheSidecar();
    void describeRunsXmlWithoutSidecar();
    void describeSkipsBannerBeforeXml();
    void describePythonModuleWithInterpreter();
    void describeHangingModuleTimesOut();
    void describeGarbageIsAProtocolError();
    void describeOutputBeyondTheLimitIsSaidSo();
    void describeInvalidSidecarGivesLineAndColumn();
    void describeMissingModuleIsALaunchError();
    void failedDiscoveryIsRetriedAndSuccessCached();
    void runTypesReturnParameters();
    void returnParametersSurviveAFailedExitAsPartial();
    void missingReturnFileGivesAWarning();
    void returnFileLivesInAPrivateDirectoryThatIsRemoved();
    void invalidValuesFailBeforeLaunch();
    void pythonModuleRunsWithReturnVector();
    void describeFifoSidecarFailsAtOnceInsteadOfBlocking();
    void describeOversizeSidecarIsRefused();
    void positionalValueStartingWithADashReachesTheModuleAsData();
    void nonFiniteValueFailsBeforeLaunch();
};

void tst_Modules::describeReadsTheSidecar()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, binPath("offload-example-blur"));
    QCOMPARE(m.descriptionSource, binPath("offload-example-blur.xml"));
    QCOMPARE(m.description.title, QStringLiteral("Synthetic Blur"));
    QCOMPARE(m.program, binPath("offload-example-blur"));
    QVERIFY(m.hasReturnParameters());
    QVERIFY(m.description.parameter(QStringLiteral("iterations")));
}

void tst_Modules::describeRunsXmlWithoutSidecar()
{
    const QString copy = m_dir.filePath(QStringLiteral("blur-copy"));
    QVERIFY(QFile::copy(binPath("offload-example-blur"), copy));
    QVERIFY(QFile::setPermissions(copy, QFile::ReadOwner | QFile::ExeOwner | QFile::WriteOwner));
    ModuleRunner runner;
    const Module m = describeOk(runner, copy);
    QCOMPARE(m.descriptionSource, copy + QStringLiteral(" --xml"));
    QCOMPARE(m.description.title, QStringLiteral("Synthetic Blur"));
    QCOMPARE(m.description.parameter(QStringLiteral("method"))->elements,
        (QStringList { "gaussian", "box" }));
}

void tst_Modules::describeSkipsBannerBeforeXml()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, testModule(QStringLiteral("banner-module")));
    QCOMPARE(m.description.title, QStringLiteral("Test Module"));
}

void tst_Modules::describePythonModuleWithInterpreter()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, binPath("offload-example-histogram.py"));
    QCOMPARE(m.description.title, QStringLiteral("Random Histogram"));
    QVERIFY(QFileInfo(m.program).fileName().startsWith(QStringLiteral("python3")));
    QCOMPARE(m.launchArguments, QStringList { binPath("offload-example-histogram.py") });
}

void tst_Modules::describeHangingModuleTimesOut()
{
    ModuleRunner runner;
    const QString path = testModule(QStringLiteral("hang-module"));
    auto task = runner.describe(&m_context, path, 300ms);
    QVERIFY(task.waitForFinished(20s));
    QCOMPARE(task.state(), TaskState::Failed);
    QCOMPARE(task.error().kind, ErrorKind::Timeout);
    QVERIFY2(task.error().message.contains(QStringLiteral("hang-module --xml")),
        qPrintable(task.error().message));
}

void tst_Modules::describeOutputBeyondTheLimitIsSaidSo()
{
    // A description followed by 17 MiB: what is kept is the newest 16 MiB, without the
    // description, so the error must say that the output was too long, not that it was garbage.
    ModuleRunner runner;
    auto task = runner.describe(&m_context, testModule(QStringLiteral("chatty-module")));
    QVERIFY(task.waitForFinished(60s));
    QCOMPARE(task.state(), TaskState::Failed);
    QCOMPARE(task.error().kind, ErrorKind::Protocol);
    QVERIFY2(task.error().message.contains(QStringLiteral("more than 16 MiB")),
        qPrintable(task.error().message));
}

void tst_Modules::describeGarbageIsAProtocolError()
{
    ModuleRunner runner;
    auto task = runner.describe(&m_context, testModule(QStringLiteral("garbage-module")));
    QVERIFY(task.waitForFinished(20s));
    QCOMPARE(task.state(), TaskState::Failed);
    QCOMPARE(task.error().kind, ErrorKind::Protocol);
    QVERIFY2(task.error().message.contains(QStringLiteral("no valid description")),
        qPrintable(task.error().message));
}

void tst_Modules::describeInvalidSidecarGivesLineAndColumn()
{
    const QString module = testModule(QStringLiteral("sidecar-module"));
    QFile xml(m_dir.filePath(QStringLiteral("sidecar-module.xml")));
    QVERIFY(xml.open(QIODevice::WriteOnly));
    xml.write(
        "<?xml version=\"1.0\"?>\n<executable>\n<parameters><label>a</label>\n"
        "<integer><name>x</name><longflag>x</longflag></integer>\n"
        "<integer><name>x</name><longflag>y</longflag></integer>\n</parameters></executable>\n");
    xml.close();
    ModuleRunner runner;
    auto task = runner.describe(&m_context, module);
    QVERIFY(task.waitForFinished(20s));
    QCOMPARE(task.state(), TaskState::Failed);
    QCOMPARE(task.error().kind, ErrorKind::Protocol);
    QVERIFY2(task.error().message.contains(QStringLiteral("sidecar-module.xml:5:")),
        qPrintable(task.error().message));
    QVERIFY2(task.error().message.contains(QStringLiteral("x")), qPrintable(task.error().message));
}

void tst_Modules::describeMissingModuleIsALaunchError()
{
    ModuleRunner runner;
    auto task = runner.describe(&m_context, m_dir.filePath(QStringLiteral("no-such-module")));
    QVERIFY(task.waitForFinished(1s));
    QCOMPARE(task.error().kind, ErrorKind::Launch);
    QVERIFY(task.error().message.contains(QStringLiteral("not found")));
}

void tst_Modules::failedDiscoveryIsRetriedAndSuccessCached()
{
    ModuleRunner runner;
    const QString path = testModule(QStringLiteral("flaky-module"));
    auto first = runner.describe(&m_context, path);
    QVERIFY(first.waitForFinished(20s));
    QCOMPARE(first.state(), TaskState::Failed);

    QFile ok(path + QStringLiteral(".ok"));
    QVERIFY(ok.open(QIODevice::WriteOnly)); // now the module answers --xml properly
    ok.close();
    const Module m = describeOk(runner, path);
    QCOMPARE(m.description.title, QStringLiteral("Test Module"));

    QVERIFY(QFile::remove(path + QStringLiteral(".ok"))); // it would fail again if it were run
    auto cached = runner.describe(&m_context, path);
    QCOMPARE(cached.state(), TaskState::Finished); // from the cache: no --xml run, at once
    QCOMPARE(cached.result().description.title, QStringLiteral("Test Module"));
}

void tst_Modules::runTypesReturnParameters()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, binPath("offload-example-blur"));
    const QString summary = m_dir.filePath(QStringLiteral("summary.txt"));
    QList<Progress> progress;
    QObject context; // the callback writes a local: its context dies with it
    auto run = runner.run(
        &context, m, { { "iterations", 60 }, { "method", "box" }, { "summary", summary } });
    run.onProgress([&](const Progress &p) { progress << p; });
    QVERIFY(run.waitForFinished(30s));
    QCOMPARE(run.state(), TaskState::Finished);
    QTRY_VERIFY_WITH_TIMEOUT(!progress.isEmpty() && progress.last().fraction() == 1.0, 5000);
    QCOMPARE(progress.last().stage.name, QStringLiteral("Synthetic Blur"));
    const sem::ReturnValues rv = ModuleRunner::returnValues(m, run.result());
    QVERIFY2(rv.warnings.isEmpty(), qPrintable(rv.warnings.join('\n')));
    QCOMPARE(rv.values.value("checksum").typeId(), QMetaType::LongLong);
    QCOMPARE(rv.values.value("mean").typeId(), QMetaType::Double);
    QCOMPARE(rv.values.value("status").toString(), QStringLiteral("ok"));
    QFile file(summary);
    QVERIFY(file.open(QIODevice::ReadOnly));
    QVERIFY(file.readAll().contains("checksum " + rv.values.value("checksum").toByteArray()));
}

void tst_Modules::returnParametersSurviveAFailedExitAsPartial()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, binPath("offload-example-blur"));
    auto run = runner.run(&m_context, m,
        { { "iterations", 5 }, { "fail", true },
            { "summary", m_dir.filePath(QStringLiteral("s2.txt")) } });
    QVERIFY(run.waitForFinished(30s));
    QCOMPARE(run.state(), TaskState::Failed);
    QCOMPARE(run.error().kind, ErrorKind::ExitCode);
    QCOMPARE(run.error().exitCode, std::optional<int>(3));
    QVERIFY(run.error().partial.canConvert<ProgramResult>());
    const auto partial = run.error().partial.value<ProgramResult>();
    const sem::ReturnValues rv = ModuleRunner::returnValues(m, partial);
    QCOMPARE(rv.values.value("status").toString(), QStringLiteral("failed on request"));
    QVERIFY(partial.stderrText.contains("failing on request"));
}

void tst_Modules::missingReturnFileGivesAWarning()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, testModule(QStringLiteral("noreturn-module")));
    auto run = runner.run(&m_context, m, {});
    QVERIFY(run.waitForFinished(20s));
    QCOMPARE(run.state(), TaskState::Finished);
    QVERIFY(!run.result().returnParameters.has_value());
    const sem::ReturnValues rv = ModuleRunner::returnValues(m, run.result());
    QVERIFY(rv.values.isEmpty());
    QVERIFY(!rv.warnings.isEmpty());
    QVERIFY(rv.warnings.first().contains(QStringLiteral("no return-parameter file")));
}

void tst_Modules::returnFileLivesInAPrivateDirectoryThatIsRemoved()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, testModule(QStringLiteral("statdir-module")));
    auto run = runner.run(&m_context, m, { { "level", 2 } });
    QVERIFY(run.waitForFinished(20s));
    QCOMPARE(run.state(), TaskState::Finished);
    const sem::ReturnValues rv = ModuleRunner::returnValues(m, run.result());
    QCOMPARE(rv.values.value("dirmode").toString(), QStringLiteral("700"));
    QCOMPARE(rv.values.value("answer").toLongLong(), 42);
    const QString dir = rv.values.value("dir").toString();
    QVERIFY(dir.contains(QStringLiteral("offload-return-")));
    QVERIFY(!QFileInfo::exists(dir));
}

void tst_Modules::invalidValuesFailBeforeLaunch()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, binPath("offload-example-blur"));
    const QString summary = m_dir.filePath(QStringLiteral("never.txt"));
    struct Case
    {
        QVariantMap values;
        QString mentions;
    };
    const QList<Case> cases {
        { { { "iterations", 0 }, { "summary", summary } }, "iterations" },
        { { { "iterations", "many" }, { "summary", summary } }, "iterations" },
        { { { "method", "median" }, { "summary", summary } }, "method" },
        { { { "sigma", 50.0 }, { "summary", summary } }, "sigma" },
        { { { "iterations", 5 } }, "summary" }, // the required index parameter
        { { { "nosuch", 1 }, { "summary", summary } }, "nosuch" },
    };
    for (const Case &c : cases) {
        auto run = runner.run(&m_context, m, c.values);
        QCOMPARE(run.state(), TaskState::Failed); // at once: nothing was started
        QCOMPARE(run.error().kind, ErrorKind::InvalidInput);
        QVERIFY2(run.error().message.contains(c.mentions), qPrintable(run.error().message));
    }
    QVERIFY(!QFileInfo::exists(summary));
}

void tst_Modules::pythonModuleRunsWithReturnVector()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, binPath("offload-example-histogram.py"));
    auto run = runner.run(&m_context, m, { { "count", 2000 }, { "bins", 4 } });
    QVERIFY(run.waitForFinished(30s));
    QCOMPARE(run.state(), TaskState::Finished);
    const sem::ReturnValues rv = ModuleRunner::returnValues(m, run.result());
    const QVariantList counts = rv.values.value("counts").toList();
    QCOMPARE(counts.size(), 4);
    qlonglong total = 0;
    for (const QVariant &c : counts)
        total += c.toLongLong();
    QCOMPARE(total, 2000);
    QCOMPARE(run.progress().fraction(), 1.0);
}

void tst_Modules::describeFifoSidecarFailsAtOnceInsteadOfBlocking()
{
    const QString module = testModule(QStringLiteral("fifo-module"));
    const QByteArray fifo = QFile::encodeName(m_dir.filePath(QStringLiteral("fifo-module.xml")));
    QVERIFY(::mkfifo(fifo.constData(), 0600) == 0);
    // describe() reads a sidecar on the calling thread: call it on another one, so that a
    // blocking open can be observed (and released) instead of hanging the test.
    ModuleRunner runner;
    std::promise<Error> promise;
    auto answer = promise.get_future();
    std::thread caller([&] {
        auto task = runner.describe(&m_context, module);
        task.waitForFinished(20s);
        promise.set_value(task.state() == TaskState::Failed
                ? task.error()
                : Error { ErrorKind::Exception, QStringLiteral("not failed") });
    });
    const bool answered = answer.wait_for(20s) == std::future_status::ready;
    if (!answered) { // release the blocked open(): a writer that closes at once gives it EOF
        const int writer = ::open(fifo.constData(), O_WRONLY | O_NONBLOCK);
        if (writer >= 0)
            ::close(writer);
    }
    caller.join();
    QVERIFY2(answered, "describe() blocked on the FIFO sidecar");
    const Error e = answer.get();
    QCOMPARE(e.kind, ErrorKind::Launch);
    QVERIFY2(e.message.contains(QStringLiteral("fifo-module.xml"))
            && e.message.contains(QStringLiteral("FIFO")),
        qPrintable(e.message));
    QVERIFY(QFile::remove(QFile::decodeName(fifo)));
}

void tst_Modules::describeOversizeSidecarIsRefused()
{
    const QString module = testModule(QStringLiteral("huge-module"));
    QFile xml(m_dir.filePath(QStringLiteral("huge-module.xml")));
    QVERIFY(xml.open(QIODevice::WriteOnly));
    xml.write("<?xml version=\"1.0\"?>\n<executable><title>Huge</title><description>");
    QVERIFY(xml.resize(sem::maxDescriptionBytes + 1)); // sparse: nothing is written
    xml.close();
    ModuleRunner runner;
    auto task = runner.describe(&m_context, module);
    QVERIFY(task.waitForFinished(20s));
    QCOMPARE(task.state(), TaskState::Failed);
    QVERIFY2(task.error().message.contains(QStringLiteral("huge-module.xml"))
            && task.error().message.contains(QString::number(sem::maxDescriptionBytes)),
        qPrintable(task.error().message));
    QVERIFY(xml.remove());
}

void tst_Modules::positionalValueStartingWithADashReachesTheModuleAsData()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, binPath("offload-example-blur"));
    ModuleRunOptions options;
    options.workingDirectory = m_dir.path();
    auto run = runner.run(
        &m_context, m, { { "iterations", 5 }, { "summary", "-summary.txt" } }, options);
    QVERIFY(run.waitForFinished(30s));
    QVERIFY2(run.state() == TaskState::Finished, qPrintable(run.error().summary()));
    QVERIFY(
        QFileInfo::exists(m_dir.filePath(QStringLiteral("-summary.txt")))); // data, not an option
}

void tst_Modules::nonFiniteValueFailsBeforeLaunch()
{
    ModuleRunner runner;
    const Module m = describeOk(runner, binPath("offload-example-blur"));
    const QString summary = m_dir.filePath(QStringLiteral("nan.txt"));
    for (const char *bad : { "nan", "inf", "-inf" }) {
        auto run = runner.run(&m_context, m, { { "sigma", bad }, { "summary", summary } });
        QCOMPARE(run.state(), TaskState::Failed); // at once: nothing was started
        QCOMPARE(run.error().kind, ErrorKind::InvalidInput);
        QVERIFY2(run.error().message.contains("sigma"), qPrintable(run.error().message));
    }
    QVERIFY(!QFileInfo::exists(summary));
}

QTEST_GUILESS_MAIN(tst_Modules)
#include "tst_modules.moc"
