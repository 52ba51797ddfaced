// Specification of the monitor: TaskModel rows, batched updates, trimming; LatencyProbe.
#include <offload/core/threadpool.h>
#include <offload/monitor/latencyprobe.h>
#include <offload/monitor/taskmodel.h>

#include "../common/testsupport.h"

#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QTest>
#include <QThread>

#include <algorithm>
#include <future>

using namespace offload;
using namespace std::chrono_literals;

class tst_Monitor : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void modelListsNewTasksWithTheirColumns();
    void modelPassesTheItemModelTester();
    void millionReportsCauseFewDataChangedSignals();
    void failedTaskShowsErrorSummary();
    void keepsAtMostMaxFinishedRows();
    void clearFinishedKeepsRunningTasks();
    void modelCreatedLaterShowsLiveTasks();
    void probeMeasuresAnIdleLoop();
    void probeSeesAStallOfTheLoop();
};

void tst_Monitor::modelListsNewTasksWithTheirColumns()
{
    TaskModel model;
    QObject context;
    const int before = model.rowCount();
    auto task = run(&context,
        [](TaskControl &c) {
            c.setProgressRange(0, 4);
            c.setStage(QStringLiteral("Load"), 0, 2);
            c.setProgress(1, QStringLiteral("reading"));
            return 1;
        },
        { .name = QStringLiteral("loader") });
    QVERIFY(task.waitForFinished(10s));
    model.refresh();
    QCOMPARE(model.rowCount(), before + 1);
    const int row = model.rowOf(task.id());
    QVERIFY(row >= 0);
    const auto cell = [&](int col) { return model.index(row, col).data().toString(); };
    QCOMPARE(cell(TaskModel::Name), QStringLiteral("loader"));
    QCOMPARE(cell(TaskModel::Kind), QStringLiteral("thread"));
    QCOMPARE(cell(TaskModel::State), QStringLiteral("Finished"));
    QCOMPARE(cell(TaskModel::Progress), QStringLiteral("25%"));
    QCOMPARE(cell(TaskModel::Stage), QStringLiteral("Load (1/2)"));
    QCOMPARE(cell(TaskModel::Text), QStringLiteral("reading"));
    QVERIFY(cell(TaskModel::Elapsed).endsWith(QStringLiteral(" s")));
    QCOMPARE(model.index(row, 0).data(TaskModel::FractionRole).toDouble(), 0.25);
    QCOMPARE(model.task(row).id(), task.id());
}

void tst_Monitor::modelPassesTheItemModelTester()
{
    TaskModel model;
    model.setUpdateInterval(5);
    model.setMaxFinished(5);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QObject context;
    std::vector<TaskHandle<int>> tasks;
    for (int i = 0; i < 20; ++i) {
        tasks.push_back(run(&context, [i](TaskControl &c) {
            for (int k = 0; k < 1000; ++k)
                c.setProgress(k);
            if (i % 3 == 0)
                throw std::runtime_error("odd one out");
            return i;
        }));
    }
    for (auto &t : tasks)
        QVERIFY(t.waitForFinished(10s));
    QTRY_VERIFY_WITH_TIMEOUT(model.rowCount() <= 5, 10000);
    model.clearFinished();
    QCOMPARE(model.rowCount(), 0);
}

void tst_Monitor::millionReportsCauseFewDataChangedSignals()
{
    TaskModel model;
    model.setUpdateInterval(20);
    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    QObject context;
    const auto start = std::chrono::steady_clock::now();
    auto task = run(&context, [](TaskControl &c) {
        c.setProgressRange(0, 1'000'000);
        for (qint64 i = 1; i <= 1'000'000; ++i)
            c.setProgress(i);
    });
    QVERIFY(task.waitForFinished(30s));
    QTRY_COMPARE_WITH_TIMEOUT(
        model.index(model.rowOf(task.id()), TaskModel::Progress).data().toString(),
        QStringLiteral("100%"), 10000);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start)
                        .count();
    // At most one full-row signal and one Elapsed signal per timer tick.
    QVERIFY2(changed.count() <= 2 * (ms / 20 + 2),
        qPrintable(QStringLiteral("%1 signals in %2 ms").arg(changed.count()).arg(ms)));
}

void tst_Monitor::failedTaskShowsErrorSummary()
{
    TaskModel model;
    QObject context;
    auto task = run(&context, []() -> int { throw std::invalid_argument("bad size"); });
    QVERIFY(task.waitForFinished(10s));
    model.refresh();
    const int row = model.rowOf(task.id());
    QCOMPARE(model.index(row, TaskModel::State).data().toString(), QStringLiteral("Failed"));
    QCOMPARE(model.index(row, TaskModel::Error).data().toString(),
        QStringLiteral("exception (std::invalid_argument): bad size"));
}

void tst_Monitor::keepsAtMostMaxFinishedRows()
{
    TaskModel model;
    model.clearFinished();
    model.setMaxFinished(3);
    QObject context;
    std::vector<TaskHandle<int>> tasks;
    for (int i = 0; i < 10; ++i)
        tasks.push_back(run(&context, [i] { return i; }));
    for (auto &t : tasks)
        QVERIFY(t.waitForFinished(10s));
    model.refresh();
    model.refresh();
    QCOMPARE(model.rowCount(), 3);
    // The newest three remain.
    QCOMPARE(model.task(2).id(), tasks.back().id());
    QCOMPARE(model.task(0).id(), tasks[7].id());
}

void tst_Monitor::clearFinishedKeepsRunningTasks()
{
    TaskModel model;
    QObject context;
    std::promise<void> release;
    auto gate = release.get_future().share();
    auto done = run(&context, [] { return 1; });
    auto running = run(&context, [gate] { gate.wait_for(10s); });
    QVERIFY(done.waitForFinished(10s));
    model.refresh();
    model.clearFinished();
    QCOMPARE(model.rowOf(done.id()), -1);
    QVERIFY(model.rowOf(running.id()) >= 0);
    release.set_value();
    QVERIFY(running.waitForFinished(10s));
}

void tst_Monitor::modelCreatedLaterShowsLiveTasks()
{
    QObject context;
    std::promise<void> release;
    auto gate = release.get_future().share();
    auto running = run(&context, [gate] { gate.wait_for(10s); });
    TaskModel model;
    QVERIFY(model.rowOf(running.id()) >= 0);
    release.set_value();
    QVERIFY(running.waitForFinished(10s));
}

void tst_Monitor::probeMeasuresAnIdleLoop()
{
    LatencyProbe probe;
    QSignalSpy spy(&probe, &LatencyProbe::sampled);
    probe.start();
    QTRY_VERIFY_WITH_TIMEOUT(spy.count() >= 50, 10000);
    probe.stop();
    // The statistics are those of the samples it reported, one by one.
    const auto s = probe.stats();
    std::vector<double> samples;
    for (const QList<QVariant> &args : spy)
        samples.push_back(args.at(0).toDouble());
    QCOMPARE(s.count, qint64(samples.size()));
    std::sort(samples.begin(), samples.end());
    QVERIFY(samples.front() > 0); // a ping takes time
    QCOMPARE(s.maxus, samples.back());
    const auto within = [&samples](double v) {
        return std::binary_search(samples.begin(), samples.end(), v); // a measured value
    };
    QVERIFY2(within(s.p50us), qPrintable(QString::number(s.p50us)));
    QVERIFY2(within(s.p99us), qPrintable(QString::number(s.p99us)));
    const auto atOrBelow = [&samples](double v) {
        return double(std::upper_bound(samples.begin(), samples.end(), v) - samples.begin())
            / double(samples.size());
    };
    // Half the pings took at most the median, 99% at most the p99 (to one sample: the rank is
    // rounded).
    const double oneSample = 1.0 / double(samples.size());
    QVERIFY(atOrBelow(s.p50us) >= 0.5 - oneSample);
    QVERIFY(atOrBelow(s.p99us) >= 0.99 - oneSample);
}

void tst_Monitor::probeSeesAStallOfTheLoop()
{
    LatencyProbe probe;
    QSignalSpy spy(&probe, &LatencyProbe::sampled);
    probe.start();
    QTRY_VERIFY_WITH_TIMEOUT(spy.count() >= 5, 10000);
    const qsizetype before = spy.count();
    QThread::msleep(60); // a stall of the loop under test, not synchronisation
    QTRY_VERIFY_WITH_TIMEOUT(spy.count() >= before + 20, 10000);
    probe.stop();
    // A ping sent during the stall waited at least until its end.
    QVERIFY2(probe.stats().maxus >= 40'000, qPrintable(QString::number(probe.stats().maxus)));
}

QTEST_GUILESS_MAIN(tst_Monitor)
#include "tst_monitor.moc"
