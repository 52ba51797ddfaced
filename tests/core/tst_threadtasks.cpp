// Specification of thread tasks: states, progress coalescing, cancellation, errors,
// context lifetime, QFuture interop and pool shutdown.
#include <offload/core/threadpool.h>

#include "../common/testsupport.h"

#include <QEventLoop>
#include <QProcess>
#include <QSignalSpy>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <future>
#include <stdexcept>

#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

using namespace offload;
using namespace std::chrono_literals;

namespace app {
struct DiskFull : std::runtime_error
{
    DiskFull() : std::runtime_error("disk full") { }
};
} // namespace app

// A gate a test opens to let blocked pool work continue; waits are bounded.
class Gate
{
public:
    void open() { m_promise.set_value(); }
    bool wait() const { return m_future.wait_for(10s) == std::future_status::ready; }

private:
    std::promise<void> m_promise;
    std::shared_future<void> m_future = m_promise.get_future().share();
};

class tst_ThreadTasks : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void resultIsDeliveredOnTheContextThread();
    void stateChangesAreDeliveredInOrder();
    void millionProgressReportsArriveCoalescedWithFinalValue();
    void stageAndTextReachTheContext();
    void anyDoubleBecomesAFractionOfProgress();
    void cancelOfQueuedTaskNeverRunsIt();
    void cancelOfRunningTaskEndsCancelledEvenIfItReturns();
    void throwIfCancellationRequestedEndsCancelled();
    void exceptionsBecomeStructuredErrors_data();
    void exceptionsBecomeStructuredErrors();
    void resultThrowsForFailedAndCancelledTasks();
    void errorIsEmptyUnlessTheTaskFailed();
    void droppingEveryHandleNeitherCancelsNorSilencesTheTask();
    void contextDestroyedMidTaskCancelsAndDeliversNothing();
    void contextInAnotherThreadReceivesEverythingThere();
    void finishedCallbackAddedLateIsStillCalled();
    void higherPriorityQueuedTaskRunsFirst();
    void tasksSubmittedWhileAThreadLooksForWorkReachEveryThread();
    void poolThreadsRunAtLoweredPriority();
    void futureInteropCarriesResultErrorAndCancel();
    void futureThenWithContextWorks();
    void poolDestroyedWithHundredTasksReturnsWithinShutdownTimeout();
    void poolDetachesTasksThatIgnoreCancellation();
    void runAfterShutdownEndsCancelled();
    void applicationQuitWithRunningTasksExitsWithinShutdownTimeout();
    void applicationsMadeInTurnEachGetTheirCallbacks();
};

// Child mode: applications made and destroyed in turn on one thread. Each must get its own
// task's callback, although the one before left wake-ups behind: posted and never processed,
// or posted by the process-wide LazyWaker while that application was being destroyed.
static int applicationsInTurnChild(char *argv0)
{
    for (int i = 0; i < 30; ++i) {
        int argc = 1;
        char *args[] = { argv0, nullptr };
        QCoreApplication app(argc, args);
        ThreadPool pool;
        QObject context;
        bool delivered = false;
        QEventLoop loop;
        QTimer::singleShot(10s, &loop, &QEventLoop::quit); // bounded: a stall exits 3
        pool.run(&context, [i] { return i; }).onFinished([&](const auto &) {
            delivered = true;
            loop.quit();
        });
        loop.exec();
        if (!delivered)
            return 3;
        // Left behind: a final state delivered lazily, and one whose wake-up is posted but
        // never processed (the application goes first).
        auto lazy = pool.run(&context, [](TaskControl &c) {
            c.setProgressRange(0, 2);
            c.setProgress(1);
        });
        auto unprocessed = pool.run(&context, [] {});
        unprocessed.onFinished([](const auto &) { std::abort(); }); // its context goes first
        if (!lazy.waitForFinished(10s) || !unprocessed.waitForFinished(10s))
            return 4;
    }
    return 0;
}

// Child mode (the test binary re-executed): quits the application while the global pool runs
// cooperative tasks and one that ignores cancellation; main() must still return promptly.
static int quitWithRunningTasksChild(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    std::atomic<int> running { 0 };
    run(&app, [&] {
        ++running;
        QThread::sleep(60); // ignores cancellation; the pool must not wait for it
    });
    for (int i = 0; i < 3; ++i) {
        run(&app, [&](TaskControl &c) {
            ++running;
            while (!c.isCancellationRequested())
                QThread::msleep(1);
        });
    }
    QTimer::singleShot(0, &app, [&] {
        // Both pool threads busy, the rest queued; bounded, so a broken pool fails the test
        // (exit code 3) instead of leaving this child spinning.
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (running.load() < 2 && std::chrono::steady_clock::now() < deadline)
            QThread::msleep(1);
        app.exit(running.load() < 2 ? 3 : 0);
    });
    return app.exec();
}

void tst_ThreadTasks::resultIsDeliveredOnTheContextThread()
{
    QObject context;
    std::atomic<QThread *> workThread { nullptr };
    QThread *deliveryThread = nullptr;
    int value = 0;
    auto task = run(&context, [&] {
        workThread = QThread::currentThread();
        return 42;
    });
    task.onResult([&](int v) {
        value = v;
        deliveryThread = QThread::currentThread();
    });
    QTRY_COMPARE_WITH_TIMEOUT(value, 42, 10000);
    QCOMPARE(deliveryThread, QThread::currentThread());
    QVERIFY(workThread.load() != QThread::currentThread());
    QCOMPARE(task.state(), TaskState::Finished);
    QCOMPARE(task.result(), 42);
}

void tst_ThreadTasks::stateChangesAreDeliveredInOrder()
{
    QObject context;
    QList<TaskState> states;
    bool finished = false;
    auto task = run(&context, [] { return QStringLiteral("done"); });
    task.onStateChanged([&](TaskState s) { states << s; });
    task.onFinished([&](const TaskHandle<QString> &t) {
        finished = true;
        QCOMPARE(t.result(), QStringLiteral("done"));
    });
    QTRY_VERIFY_WITH_TIMEOUT(finished, 10000);
    const QList<TaskState> expected { TaskState::Queued, TaskState::Starting, TaskState::Running,
        TaskState::Finished };
    QCOMPARE(states, expected);
}

void tst_ThreadTasks::millionProgressReportsArriveCoalescedWithFinalValue()
{
    constexpr qint64 reports = 1'000'000;
    QObject context;
    QList<qint64> seen;
    bool progressBeforeFinish = false;
    bool finished = false;
    const auto start = std::chrono::steady_clock::now();
    auto task = run(&context, [](TaskControl &control) {
        control.setProgressRange(0, reports);
        for (qint64 i = 1; i <= reports; ++i)
            control.setProgress(i);
    });
    task.onProgress([&](const Progress &p) { seen << p.value; });
    task.onFinished([&](const TaskHandle<void> &) {
        finished = true;
        progressBeforeFinish = !seen.isEmpty() && seen.last() == reports;
    });
    QTRY_VERIFY_WITH_TIMEOUT(finished, 30000);
    const auto elapsedMs = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - start)
                               .count();
    QVERIFY(progressBeforeFinish);
    QVERIFY(std::is_sorted(seen.begin(), seen.end()));
    // Deliveries are at least 16 ms apart, plus the first and the final one.
    QVERIFY2(seen.size() <= elapsedMs / 16 + 2,
        qPrintable(QStringLiteral("%1 deliveries in %2 ms").arg(seen.size()).arg(elapsedMs)));
    QCOMPARE(task.progress().value, reports);
}

void tst_ThreadTasks::stageAndTextReachTheContext()
{
    QObject context;
    Progress last;
    bool finished = false;
    auto task = run(&context, [](TaskControl &control) {
        control.setStage(QStringLiteral("Segmenting"), 1, 3);
        control.setProgress(5, QStringLiteral("slice 5"));
        control.setFraction(0.5);
    });
    task.onProgress([&](const Progress &p) { last = p; });
    task.onFinished([&](const TaskHandle<void> &) { finished = true; });
    QTRY_VERIFY_WITH_TIMEOUT(finished, 10000);
    QCOMPARE(last.stage.name, QStringLiteral("Segmenting"));
    QCOMPARE(last.stage.index, 1);
    QCOMPARE(last.stage.count, 3);
    QCOMPARE(last.text, QStringLiteral("slice 5"));
    QCOMPARE(last.fraction(), 0.5);
}

void tst_ThreadTasks::anyDoubleBecomesAFractionOfProgress()
{
    constexpr double inf = std::numeric_limits<double>::infinity();
    constexpr qint64 full = Progress::fractionScale;
    QCOMPARE(full, 1'000'000);
    constexpr double nan = std::numeric_limits<double>::quiet_NaN();
    QCOMPARE(Progress::valueFromFraction(nan), 0); // NaN counts as 0
    QCOMPARE(Progress::valueFromFraction(inf), full);
    QCOMPARE(Progress::valueFromFraction(-inf), 0);
    QCOMPARE(Progress::valueFromFraction(1e300), full);
    QCOMPARE(Progress::valueFromFraction(-1e300), 0);
    QCOMPARE(Progress::valueFromFraction(std::numeric_limits<double>::denorm_min()), 0);
    QCOMPARE(Progress::valueFromFraction(0.0), 0);
    QCOMPARE(Progress::valueFromFraction(0.3), 300'000);
    QCOMPARE(Progress::valueFromFraction(0.9999996), full); // rounded to the nearest step
    QCOMPARE(Progress::valueFromFraction(0.0000006), 1);
    QCOMPARE(Progress::valueFromFraction(1.0), full);
    static_assert(Progress::valueFromFraction(0.5) == 500'000);

    Progress p;
    p.text = QStringLiteral("kept");
    p.setFraction(nan);
    QCOMPARE(p.minimum, 0);
    QCOMPARE(p.maximum, full);
    QCOMPARE(p.value, 0);
    QCOMPARE(p.text, QStringLiteral("kept"));

    // Through TaskControl: the last report, NaN, reads as 0 of 0..fractionScale.
    QObject context;
    auto task = run(&context, [](TaskControl &control) {
        control.setFraction(0.75);
        control.setFraction(nan);
    });
    QVERIFY(task.waitForFinished(10s));
    QCOMPARE(task.progress().maximum, full);
    QCOMPARE(task.progress().value, 0);
}

void tst_ThreadTasks::cancelOfQueuedTaskNeverRunsIt()
{
    Gate gate; // outlives the pool, whose thread may still be returning from gate.wait()
    ThreadPool pool({ .maxThreads = 1 });
    QObject context;
    std::atomic<bool> secondRan { false };
    bool cancelledDelivered = false;
    Gate started;
    auto blocker = pool.run(&context, [&] {
        started.open();
        return gate.wait();
    });
    QVERIFY(started.wait());
    auto second = pool.run(&context, [&] { secondRan = true; });
    second.onCancelled([&] { cancelledDelivered = true; });
    QCOMPARE(second.state(), TaskState::Queued);
    second.cancel();
    QCOMPARE(second.state(), TaskState::Cancelled); // at once, not when a thread frees up
    QCOMPARE(pool.queuedCount(), 0);
    gate.open();
    QVERIFY(blocker.waitForFinished(10s));
    QVERIFY(blocker.result());
    QTRY_VERIFY_WITH_TIMEOUT(cancelledDelivered, 10000);
    QVERIFY(!secondRan);
}

void tst_ThreadTasks::cancelOfRunningTaskEndsCancelledEvenIfItReturns()
{
    QObject context;
    Gate started;
    bool cancelledDelivered = false, resultDelivered = false;
    auto task = run(&context, [&](TaskControl &control) {
        started.open();
        while (!control.isCancellationRequested())
            QThread::yieldCurrentThread();
        return 7; // a normal return after the request still ends Cancelled
    });
    task.onCancelled([&] { cancelledDelivered = true; });
    task.onResult([&](int) { resultDelivered = true; });
    QVERIFY(started.wait());
    QCOMPARE(task.state(), TaskState::Running);
    task.cancel();
    QVERIFY(task.waitForFinished(10s));
    QCOMPARE(task.state(), TaskState::Cancelled);
    QTRY_VERIFY_WITH_TIMEOUT(cancelledDelivered, 10000);
    QVERIFY(!resultDelivered);
    QVERIFY(task.error().message.isEmpty()); // cancelled is not an error
}

void tst_ThreadTasks::throwIfCancellationRequestedEndsCancelled()
{
    QObject context;
    Gate started;
    auto task = run(&context, [&](TaskControl &control) {
        started.open();
        for (;;) {
            control.throwIfCancellationRequested();
            QThread::yieldCurrentThread();
        }
    });
    QVERIFY(started.wait());
    task.cancel();
    QVERIFY(task.waitForFinished(10s));
    QCOMPARE(task.state(), TaskState::Cancelled);
}

void tst_ThreadTasks::exceptionsBecomeStructuredErrors_data()
{
    QTest::addColumn<int>("which");
    QTest::addColumn<QString>("origin");
    QTest::addColumn<QString>("message");
    QTest::addColumn<int>("kind");
    QTest::newRow("std::runtime_error") << 0 << "std::runtime_error"
                                        << "boom" << int(ErrorKind::Exception);
    QTest::newRow("user type") << 1 << "app::DiskFull"
                               << "disk full" << int(ErrorKind::Exception);
    QTest::newRow("offload::Exception") << 2 << "Worker.py"
                                        << "bad input" << int(ErrorKind::WorkerError);
    QTest::newRow("non-std int") << 3 << "int"
                                 << "unknown exception" << int(ErrorKind::Exception);
    QTest::newRow("std::bad_alloc") << 4 << "std::bad_alloc"
                                    << "std::bad_alloc" << int(ErrorKind::Exception);
}

void tst_ThreadTasks::exceptionsBecomeStructuredErrors()
{
    QFETCH(int, which);
    QFETCH(QString, origin);
    QFETCH(QString, message);
    QFETCH(int, kind);
    QObject context;
    Error delivered;
    bool failed = false;
    auto task = run(&context, [which]() -> int {
        switch (which) {
        case 0:
            throw std::runtime_error("boom");
        case 1:
            throw app::DiskFull();
        case 2: {
            Error e;
            e.kind = ErrorKind::WorkerError;
            e.origin = QStringLiteral("Worker.py");
            e.message = QStringLiteral("bad input");
            e.traceback = QStringLiteral("line 3");
            throw Exception(e);
        }
        case 3:
            throw 42;
        default:
            throw std::bad_alloc();
        }
    });
    task.onError([&](const Error &e) {
        delivered = e;
        failed = true;
    });
    QTRY_VERIFY_WITH_TIMEOUT(failed, 10000);
    QCOMPARE(task.state(), TaskState::Failed);
    QCOMPARE(int(delivered.kind), kind);
    QCOMPARE(delivered.origin, origin);
    QCOMPARE(delivered.message, message);
    if (which == 2)
        QCOMPARE(delivered.traceback, QStringLiteral("line 3"));
}

void tst_ThreadTasks::resultThrowsForFailedAndCancelledTasks()
{
    QObject context;
    auto failed = run(&context, []() -> int { throw std::runtime_error("nope"); });
    QVERIFY(failed.waitForFinished(10s));
    try {
        (void)failed.result();
        QFAIL("result() of a failed task must throw");
    } catch (const Exception &e) {
        QCOMPARE(e.error().message, QStringLiteral("nope"));
        QCOMPARE(
            QString::fromUtf8(e.what()), QStringLiteral("exception (std::runtime_error): nope"));
    }

    Gate gate; // outlives the pool
    ThreadPool pool({ .maxThreads = 1 });
    auto blocker = pool.run(&context, [&] { gate.wait(); });
    auto cancelled = pool.run(&context, [] { return 1; });
    cancelled.cancel();
    QVERIFY_THROWS_EXCEPTION(CancelledError, cancelled.result());
    QVERIFY_THROWS_EXCEPTION(std::logic_error, blocker.result()); // still running
    gate.open();
}

void tst_ThreadTasks::errorIsEmptyUnlessTheTaskFailed()
{
    QObject context;
    Gate gate; // outlives the pool
    ThreadPool pool({ .maxThreads = 1 });
    auto running = pool.run(&context, [&] { gate.wait(); });
    auto cancelled = pool.run(&context, [] { return 1; });
    cancelled.cancel();
    QCOMPARE(running.error().kind, ErrorKind::None);
    QCOMPARE(cancelled.error().kind, ErrorKind::None);
    QVERIFY(running.error().message.isEmpty());
    gate.open();
    QVERIFY(running.waitForFinished(10s));
    QCOMPARE(running.state(), TaskState::Finished);
    QCOMPARE(running.error().kind, ErrorKind::None);
    QCOMPARE(running.error().summary(), QString());

    // A failure always has a kind: an Error thrown without one is an exception.
    auto failed = pool.run(&context,
        []() -> int { throw Exception(Error { .message = QStringLiteral("no kind given") }); });
    QVERIFY(failed.waitForFinished(10s));
    QCOMPARE(failed.state(), TaskState::Failed);
    QCOMPARE(failed.error().kind, ErrorKind::Exception);
    QCOMPARE(failed.error().summary(), QStringLiteral("exception: no kind given"));
}

void tst_ThreadTasks::droppingEveryHandleNeitherCancelsNorSilencesTheTask()
{
    QObject context;
    Gate gate; // outlives the pool
    ThreadPool pool({ .maxThreads = 1 });
    int value = 0;
    std::weak_ptr<detail::TaskCore> core;
    {
        auto task = pool.run(&context, [&] {
            gate.wait();
            return 7;
        });
        task.onResult([&](int v) { value = v; });
        core = detail::Access::core(task); // white-box: is the state freed in the end?
    } // the only handle is gone while the task waits at the gate
    QVERIFY(!core.expired());
    gate.open();
    QTRY_COMPARE_WITH_TIMEOUT(value, 7, 10000); // ran to its end, and its callback was called
    QTRY_VERIFY_WITH_TIMEOUT(core.expired(), 10000); // then its state was freed
}

void tst_ThreadTasks::contextDestroyedMidTaskCancelsAndDeliversNothing()
{
    auto *context = new QObject;
    Gate started;
    int deliveries = 0;
    auto task = run(context, [&](TaskControl &control) {
        started.open();
        qint64 i = 0;
        while (!control.isCancellationRequested())
            control.setProgress(++i);
    });
    task.onProgress([&](const Progress &) { ++deliveries; });
    task.onFinished([&](const TaskHandle<void> &) { ++deliveries; });
    QVERIFY(started.wait());
    QTRY_VERIFY_WITH_TIMEOUT(deliveries > 0, 10000);
    delete context;
    const int atDeletion = deliveries;
    QVERIFY(task.waitForFinished(10s)); // the destroyed context cancelled it
    QCOMPARE(task.state(), TaskState::Cancelled);
    // Let any queued delivery run: none may reach the dead context's callbacks.
    QTest::qWait(50);
    QCOMPARE(deliveries, atDeletion);
}

void tst_ThreadTasks::contextInAnotherThreadReceivesEverythingThere()
{
    QThread thread;
    thread.start();
    QObject context;
    context.moveToThread(&thread);
    std::atomic<int> wrongThread { 0 };
    std::atomic<bool> finished { false };
    auto task = run(&context, [](TaskControl &c) {
        for (int i = 0; i < 1000; ++i)
            c.setProgress(i);
        return 1;
    });
    task.onProgress([&](const Progress &) { wrongThread += QThread::currentThread() != &thread; });
    task.onFinished([&](const TaskHandle<int> &) {
        wrongThread += QThread::currentThread() != &thread;
        finished = true;
    });
    QTRY_VERIFY_WITH_TIMEOUT(finished.load(), 10000);
    QCOMPARE(wrongThread.load(), 0);
    thread.quit();
    QVERIFY(thread.wait(10000));
}

void tst_ThreadTasks::finishedCallbackAddedLateIsStillCalled()
{
    QObject context;
    auto task = run(&context, [] { return 5; });
    QVERIFY(task.waitForFinished(10s));
    QTest::qWait(20); // let the first delivery pass
    int value = 0;
    task.onResult([&](int v) { value = v; });
    QCOMPARE(value, 0); // never synchronously
    QTRY_COMPARE_WITH_TIMEOUT(value, 5, 10000);
}

// A submission made while a pool thread is still looking for work wakes nobody (the looking
// thread will take it). When two arrive together, the thread that takes the first must wake a
// sleeping one for the second: here the first waits for the second to start.
void tst_ThreadTasks::tasksSubmittedWhileAThreadLooksForWorkReachEveryThread()
{
    ThreadPool pool({ .maxThreads = 2 });
    pool.run(nullptr, [] {}).waitForFinished(10s);
    pool.run(nullptr, [] {}).waitForFinished(10s); // both threads exist
    for (int round = 0; round < 200; ++round) {
        std::atomic<bool> shortDone { false };
        pool.run(nullptr, [&] { shortDone = true; });
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (!shortDone && std::chrono::steady_clock::now() < deadline) {
            // no sleep: submit within the microseconds its thread looks for more work
        }
        QVERIFY(shortDone);
        auto secondStarted = std::make_shared<std::promise<void>>();
        auto waiter = pool.run(nullptr, [started = secondStarted->get_future()]() mutable {
            return started.wait_for(5s) == std::future_status::ready;
        });
        auto second = pool.run(nullptr, [secondStarted] { secondStarted->set_value(); });
        QVERIFY(waiter.waitForFinished(10s));
        QVERIFY2(waiter.result(), qPrintable(QStringLiteral("round %1").arg(round)));
        QVERIFY(second.waitForFinished(10s));
    }
}

void tst_ThreadTasks::higherPriorityQueuedTaskRunsFirst()
{
    Gate gate; // outlives the pool
    ThreadPool pool({ .maxThreads = 1 });
    QObject context;
    std::mutex mutex;
    QStringList order;
    auto blocker = pool.run(&context, [&] { gate.wait(); });
    auto record = [&](const char *name) {
        return [&, name] {
            std::lock_guard lock(mutex);
            order << QString::fromLatin1(name);
        };
    };
    auto low1 = pool.run(&context, record("low1"), { .priority = 0 });
    auto low2 = pool.run(&context, record("low2"), { .priority = 0 });
    auto high = pool.run(&context, record("high"), { .priority = 5 });
    gate.open();
    QVERIFY(low2.waitForFinished(10s));
    std::lock_guard lock(mutex);
    QCOMPARE(order,
        (QStringList { QStringLiteral("high"), QStringLiteral("low1"), QStringLiteral("low2") }));
}

void tst_ThreadTasks::poolThreadsRunAtLoweredPriority()
{
    QObject context;
    errno = 0;
    const int mine = getpriority(PRIO_PROCESS, id_t(syscall(SYS_gettid)));
    ThreadPool lowered({ .maxThreads = 1, .niceness = 7 });
    ThreadPool normal({ .maxThreads = 1, .niceness = 0 });
    const auto niceOf = [&](ThreadPool &pool) {
        auto t = pool.run(
            &context, [] { return getpriority(PRIO_PROCESS, id_t(syscall(SYS_gettid))); });
        return t.waitForFinished(10s) ? t.result() : -100;
    };
    QCOMPARE(niceOf(lowered), std::min(19, mine + 7));
    QCOMPARE(niceOf(normal), mine);
}

void tst_ThreadTasks::futureInteropCarriesResultErrorAndCancel()
{
    QObject context;
    QFuture<int> ok = run(&context, [] { return 3; }).toFuture();
    ok.waitForFinished();
    QCOMPARE(ok.result(), 3);

    QFuture<int> bad = run(&context, []() -> int { throw std::runtime_error("bad"); }).toFuture();
    try {
        bad.waitForFinished(); // Qt rethrows the stored exception here and in result()
        (void)bad.result();
        QFAIL("expected an exception");
    } catch (const Exception &e) {
        QCOMPARE(e.error().message, QStringLiteral("bad"));
    }

    Gate gate; // outlives the pool
    ThreadPool pool({ .maxThreads = 1 });
    auto blocker = pool.run(&context, [&] { gate.wait(); });
    auto queued = pool.run(&context, [] { return 1; });
    QFuture<int> cancelled = queued.toFuture();
    queued.cancel();
    cancelled.waitForFinished();
    QVERIFY(cancelled.isCanceled());

    // And the other way: cancelling the QFuture cancels the task.
    auto alsoQueued = pool.run(&context, [] { return 2; });
    QFuture<int> fromOutside = alsoQueued.toFuture();
    fromOutside.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(alsoQueued.isFinal(), 10000);
    QCOMPARE(alsoQueued.state(), TaskState::Cancelled);
    gate.open();
}

void tst_ThreadTasks::futureThenWithContextWorks()
{
    QObject context;
    int seen = 0;
    run(&context, [] { return 20; }).toFuture().then(&context, [&](int v) { seen = v + 1; });
    QTRY_COMPARE_WITH_TIMEOUT(seen, 21, 10000);
}

void tst_ThreadTasks::poolDestroyedWithHundredTasksReturnsWithinShutdownTimeout()
{
    QObject context;
    std::vector<TaskHandle<void>> tasks;
    std::atomic<int> started { 0 };
    {
        ThreadPool pool({ .maxThreads = 2, .shutdownTimeout = 60s });
        for (int i = 0; i < 100; ++i) {
            tasks.push_back(pool.run(&context, [&](TaskControl &c) {
                ++started;
                while (!c.isCancellationRequested())
                    QThread::yieldCurrentThread();
            }));
        }
        QTRY_VERIFY_WITH_TIMEOUT(started.load() == 2, 10000);
        const auto t0 = std::chrono::steady_clock::now();
        pool.shutdown();
        // Cooperative tasks: shutdown ends by cancellation, not by running out its timeout.
        QVERIFY(std::chrono::steady_clock::now() - t0 < 60s);
    }
    for (auto &t : tasks)
        QCOMPARE(t.state(), TaskState::Cancelled);
    QCOMPARE(started.load(), 2); // the 98 queued ones never started
}

void tst_ThreadTasks::poolDetachesTasksThatIgnoreCancellation()
{
    QObject context;
    auto gate = std::make_shared<Gate>();
    TaskHandle<void> stubborn;
    {
        ThreadPool pool({ .maxThreads = 1, .shutdownTimeout = 100ms });
        Gate started;
        stubborn = pool.run(&context, [gate, &started] {
            started.open();
            gate->wait(); // ignores cancellation
        });
        QVERIFY(started.wait());
        QTest::ignoreMessage(
            QtWarningMsg, QRegularExpression(QStringLiteral("ignored cancellation")));
    } // returns although the task still runs
    QVERIFY(stubborn.isCancellationRequested());
    QVERIFY(!stubborn.isFinal());
    gate->open();
    QVERIFY(stubborn.waitForFinished(10s));
    QCOMPARE(stubborn.state(), TaskState::Cancelled);
}

void tst_ThreadTasks::runAfterShutdownEndsCancelled()
{
    QObject context;
    ThreadPool pool;
    pool.shutdown();
    bool ran = false;
    auto t = pool.run(&context, [&] { ran = true; });
    QCOMPARE(t.state(), TaskState::Cancelled);
    QVERIFY(!ran);
}

void tst_ThreadTasks::applicationQuitWithRunningTasksExitsWithinShutdownTimeout()
{
    QProcess child;
    child.start(
        QCoreApplication::applicationFilePath(), { QStringLiteral("--child-quit-with-tasks") });
    QVERIFY(child.waitForStarted(10000));
    // Global pool: 5 s shutdown timeout, then the stubborn task is detached and main returns.
    QVERIFY2(child.waitForFinished(30000), "the process hung at exit");
    QCOMPARE(child.exitStatus(), QProcess::NormalExit);
    QCOMPARE(child.exitCode(), 0);
    QVERIFY(child.readAllStandardError().contains("ignored cancellation"));
}

void tst_ThreadTasks::applicationsMadeInTurnEachGetTheirCallbacks()
{
    QProcess child;
    child.start(QCoreApplication::applicationFilePath(),
        { QStringLiteral("--child-applications-in-turn") });
    QVERIFY(child.waitForStarted(10000));
    QVERIFY2(child.waitForFinished(60000), "the process hung");
    QCOMPARE(child.exitStatus(), QProcess::NormalExit);
    QVERIFY2(child.exitCode() == 0, child.readAllStandardError().constData());
}

int main(int argc, char **argv)
{
    if (argc > 1 && qstrcmp(argv[1], "--child-quit-with-tasks") == 0)
        return quitWithRunningTasksChild(1, argv);
    if (argc > 1 && qstrcmp(argv[1], "--child-applications-in-turn") == 0)
        return applicationsInTurnChild(argv[0]);
    QCoreApplication app(argc, argv);
    tst_ThreadTasks tc;
    return QTest::qExec(&tc, argc, argv);
}
#include "tst_threadtasks.moc"
