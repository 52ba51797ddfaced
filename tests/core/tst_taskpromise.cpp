// Specification of TaskPromise, the producing side every kind of task is built on: what the
// handle sees of each call, cancellation, a promise given up, and the direct end callback.
#include <offload/core/taskpromise.h>

#include <QEventLoop>
#include <QTest>
#include <QThread>
#include <QTimer>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

using namespace offload;
using namespace std::chrono_literals;

class tst_TaskPromise : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void aHandleSeesWhatThePromiseReports();
    void aPromiseOnAnotherThreadDeliversOnTheContextThread();
    void failWithoutAKindIsAnException();
    void cancelRunsTheHandlerAndTheProducerDecidesTheEnd();
    void aQueuedTaskEndsCancelledWhenCancelled();
    void aPromiseGivenUpEndsItsTaskCancelled();
    void assigningOverAPromiseGivesUpItsTask();
    void onlyTheFirstEndCounts();
    void finishedDirectRunsOnTheFinishingThreadBeforeTheContextHearsOfIt();
    void finishedDirectAddedAfterTheEndRunsAtOnce();
    void controlReportsToTheSameTask();
    void aCancelledQueuedTaskCannotStartWhileItsHandlerRuns();
    void theLastOwnerMayGoInsideTheDirectCallback();
    void aModalLoopInsideACallbackDeliversTheOtherTasks();
};

void tst_TaskPromise::aHandleSeesWhatThePromiseReports()
{
    QObject context;
    TaskPromise<QString> promise(&context, QStringLiteral("import"), QStringLiteral("scan"));
    const TaskHandle<QString> handle = promise.handle();
    QCOMPARE(handle.state(), TaskState::Queued);
    QCOMPARE(handle.kind(), QStringLiteral("import"));
    QCOMPARE(handle.name(), QStringLiteral("scan"));
    QCOMPARE(handle.id(), promise.id());
    std::vector<TaskState> states;
    Progress last;
    QString result;
    handle.onStateChanged([&](TaskState s) { states.push_back(s); })
        .onProgress([&](const Progress &p) { last = p; })
        .onResult([&](const QString &r) { result = r; });

    QVERIFY(promise.markStarting());
    QVERIFY(promise.start());
    QVERIFY(!promise.markStarting()); // not a forward move
    promise.setStage({ QStringLiteral("reading"), 1, 3 });
    promise.setProgressRange(0, 200);
    promise.setProgress(50, QStringLiteral("a quarter"));
    promise.setProcessInfo(ProcessInfo { 42, 1024, 0.5 });
    QVERIFY(promise.finish(QStringLiteral("done")));
    QVERIFY(promise.isFinal());

    QTRY_COMPARE_WITH_TIMEOUT(result, QStringLiteral("done"), 10000);
    QCOMPARE(states,
        (std::vector<TaskState> {
            TaskState::Queued, TaskState::Starting, TaskState::Running, TaskState::Finished }));
    QCOMPARE(last.value, 50);
    QCOMPARE(last.maximum, 200);
    QCOMPARE(last.text, QStringLiteral("a quarter"));
    QCOMPARE(last.stage.name, QStringLiteral("reading"));
    QCOMPARE(handle.processInfo().pid, 42);
    QCOMPARE(handle.result(), QStringLiteral("done"));
    const TaskSnapshot s = handle.snapshot();
    QCOMPARE(s.state, TaskState::Finished);
    QCOMPARE(s.name, QStringLiteral("scan"));
    QCOMPARE(s.progress.value, 50);
}

void tst_TaskPromise::aPromiseOnAnotherThreadDeliversOnTheContextThread()
{
    QObject context;
    TaskPromise<int> promise(&context, QStringLiteral("import"), QStringLiteral("scan"));
    const auto handle = promise.handle();
    QThread *deliveredOn = nullptr;
    int value = 0;
    handle.onResult([&](int v) {
        deliveredOn = QThread::currentThread();
        value = v;
    });
    std::thread producer([p = std::move(promise)] {
        p.start();
        for (int i = 0; i <= 1000; ++i)
            p.setFraction(i / 1000.0);
        p.finish(7);
    });
    producer.join();
    QTRY_COMPARE_WITH_TIMEOUT(value, 7, 10000);
    QCOMPARE(deliveredOn, QThread::currentThread());
    QCOMPARE(handle.progress().value, Progress::fractionScale);
}

void tst_TaskPromise::failWithoutAKindIsAnException()
{
    TaskPromise<void> promise(nullptr, QStringLiteral("import"), QStringLiteral("scan"));
    QVERIFY(promise.fail(Error { ErrorKind::None, QStringLiteral("no kind given") }));
    const auto handle = promise.handle();
    QCOMPARE(handle.state(), TaskState::Failed);
    QCOMPARE(handle.error().kind, ErrorKind::Exception);
    QCOMPARE(handle.error().message, QStringLiteral("no kind given"));
    QVERIFY_THROWS_EXCEPTION(Exception, handle.result());
}

void tst_TaskPromise::cancelRunsTheHandlerAndTheProducerDecidesTheEnd()
{
    TaskPromise<int> promise(nullptr, QStringLiteral("import"), QStringLiteral("scan"));
    std::atomic<int> handlerCalls { 0 };
    promise.setCancelHandler([&] { ++handlerCalls; });
    QVERIFY(promise.start());
    const auto handle = promise.handle();
    handle.cancel();
    handle.cancel(); // the handler runs once
    QCOMPARE(handlerCalls.load(), 1);
    QVERIFY(promise.isCancellationRequested());
    QCOMPARE(handle.state(), TaskState::Running); // the work has not stopped yet
    QVERIFY(promise.finishCancelled());
    QCOMPARE(handle.state(), TaskState::Cancelled);
    QVERIFY_THROWS_EXCEPTION(CancelledError, handle.result());
}

void tst_TaskPromise::aQueuedTaskEndsCancelledWhenCancelled()
{
    TaskPromise<int> promise(nullptr, QStringLiteral("import"), QStringLiteral("scan"));
    promise.handle().cancel();
    QCOMPARE(promise.state(), TaskState::Cancelled);
    QVERIFY(!promise.start()); // it never starts
    QVERIFY(!promise.finish(1));
}

void tst_TaskPromise::aPromiseGivenUpEndsItsTaskCancelled()
{
    QObject context;
    TaskHandle<int> handle;
    bool cancelled = false;
    {
        TaskPromise<int> promise(&context, QStringLiteral("import"), QStringLiteral("scan"));
        handle = promise.handle();
        handle.onCancelled([&] { cancelled = true; });
        promise.start();
    } // the producer is gone without ending the task
    QCOMPARE(handle.state(), TaskState::Cancelled);
    QVERIFY(handle.waitForFinished(0ms)); // nobody waits forever
    QTRY_VERIFY_WITH_TIMEOUT(cancelled, 10000);

    // One that ended keeps its end.
    {
        TaskPromise<int> promise(&context, QStringLiteral("import"), QStringLiteral("scan"));
        handle = promise.handle();
        promise.finish(3);
    }
    QCOMPARE(handle.state(), TaskState::Finished);
    QCOMPARE(handle.result(), 3);
}

void tst_TaskPromise::assigningOverAPromiseGivesUpItsTask()
{
    TaskPromise<int> first(nullptr, QStringLiteral("import"), QStringLiteral("first"));
    const auto firstHandle = first.handle();
    TaskPromise<int> second(nullptr, QStringLiteral("import"), QStringLiteral("second"));
    const auto secondHandle = second.handle();
    first = std::move(second);
    QCOMPARE(firstHandle.state(), TaskState::Cancelled);
    QCOMPARE(first.id(), secondHandle.id());
    QVERIFY(first.finish(2));
    QCOMPARE(secondHandle.result(), 2);
}

void tst_TaskPromise::onlyTheFirstEndCounts()
{
    TaskPromise<int> promise(nullptr, QStringLiteral("import"), QStringLiteral("scan"));
    QVERIFY(promise.finish(1));
    QVERIFY(!promise.finish(2));
    QVERIFY(!promise.fail(Error { ErrorKind::Exception, QStringLiteral("late") }));
    QVERIFY(!promise.finishCancelled());
    QCOMPARE(promise.handle().result(), 1);
    QVERIFY(promise.handle().error().isEmpty());
}

void tst_TaskPromise::finishedDirectRunsOnTheFinishingThreadBeforeTheContextHearsOfIt()
{
    QObject context;
    TaskPromise<int> promise(&context, QStringLiteral("import"), QStringLiteral("scan"));
    const auto handle = promise.handle();
    std::atomic<bool> contextHeard { false };
    handle.onFinished([&](const TaskHandle<int> &) { contextHeard = true; });
    std::thread::id directThread;
    int directValue = 0;
    bool heardFirst = true;
    handle.onFinishedDirect([&](const TaskHandle<int> &h) {
        directThread = std::this_thread::get_id();
        directValue = h.result();
        heardFirst = contextHeard;
    });
    std::thread::id producerThread;
    std::thread producer([&, p = std::move(promise)] {
        producerThread = std::this_thread::get_id();
        p.finish(5);
    });
    producer.join();
    QCOMPARE(directThread, producerThread);
    QCOMPARE(directValue, 5);
    QVERIFY(!heardFirst);
    QTRY_VERIFY_WITH_TIMEOUT(contextHeard.load(), 10000);
}

void tst_TaskPromise::finishedDirectAddedAfterTheEndRunsAtOnce()
{
    TaskPromise<void> promise(nullptr, QStringLiteral("import"), QStringLiteral("scan"));
    promise.finishCancelled();
    TaskState seen = TaskState::Queued;
    promise.handle().onFinishedDirect([&](const TaskHandle<void> &h) { seen = h.state(); });
    QCOMPARE(seen, TaskState::Cancelled);
}

void tst_TaskPromise::controlReportsToTheSameTask()
{
    TaskPromise<void> promise(nullptr, QStringLiteral("import"), QStringLiteral("scan"));
    TaskControl control = promise.control();
    control.setFraction(0.25);
    QCOMPARE(promise.handle().progress().value, Progress::fractionScale / 4);
    promise.handle().cancel();
    QVERIFY(control.isCancellationRequested());
    QVERIFY_THROWS_EXCEPTION(CancelledError, control.throwIfCancellationRequested());
}

void tst_TaskPromise::aCancelledQueuedTaskCannotStartWhileItsHandlerRuns()
{
    // The handler runs before the queued task is ended Cancelled: a producer dequeuing it on
    // another thread in that moment must not be able to start it.
    TaskPromise<int> promise(nullptr, QStringLiteral("import"), QStringLiteral("scan"));
    bool startedInTheGap = false;
    promise.setCancelHandler([&] { startedInTheGap = promise.markStarting() || promise.start(); });
    promise.handle().cancel();
    QVERIFY(!startedInTheGap);
    QCOMPARE(promise.state(), TaskState::Cancelled);
}

void tst_TaskPromise::theLastOwnerMayGoInsideTheDirectCallback()
{
    // The promise is the task's only owner, and the callback that runs as it ends destroys it
    // (an adapter erasing its bookkeeping): the end must finish without touching freed memory
    // (ASan in CI sees it).
    auto promise = std::make_unique<TaskPromise<int>>(
        nullptr, QStringLiteral("import"), QStringLiteral("scan"));
    std::weak_ptr<int> alive;
    {
        auto token = std::make_shared<int>(1);
        alive = token;
        promise->handle().onFinishedDirect(
            [&promise, token](const TaskHandle<int> &) { promise.reset(); });
    }
    TaskPromise<int> *raw = promise.get();
    QVERIFY(raw->finish(1));
    QVERIFY(!promise);
    QVERIFY(alive.expired()); // the callback's captures went with the task
}

void tst_TaskPromise::aModalLoopInsideACallbackDeliversTheOtherTasks()
{
    // A callback that opens a modal dialog runs a nested event loop in the middle of a
    // delivery batch; the nested loop delivers other tasks, and the outer batch then goes on.
    QObject context;
    std::vector<TaskPromise<int>> batch;
    std::vector<TaskHandle<int>> handles;
    int delivered = 0;
    // Each later callback ends two more tasks: their deliveries queue up while the outer
    // batch is still being walked.
    std::vector<TaskPromise<int>> followers;
    int followersDelivered = 0;
    for (int i = 0; i < 40; ++i) {
        followers.emplace_back(&context, QStringLiteral("import"), QStringLiteral("f%1").arg(i));
        followers.back().handle().onResult([&](int) { ++followersDelivered; });
    }
    for (int i = 0; i < 20; ++i) {
        batch.emplace_back(&context, QStringLiteral("import"), QStringLiteral("t%1").arg(i));
        handles.push_back(batch.back().handle());
        handles.back().onResult([&, i](int) {
            ++delivered;
            if (i > 0) {
                followers[size_t(2 * i)].finish(3);
                followers[size_t(2 * i + 1)].finish(3);
            }
        });
    }
    TaskPromise<int> inner(&context, QStringLiteral("import"), QStringLiteral("inner"));
    bool innerDelivered = false, modalDone = false;
    inner.handle().onResult([&](int) { innerDelivered = true; });
    handles.front().onResult([&](int) {
        QEventLoop modal;
        inner.handle().onFinished([&](const TaskHandle<int> &) { modal.quit(); });
        inner.finish(2);
        QTimer::singleShot(10000, &modal, &QEventLoop::quit); // bounded
        modal.exec();
        modalDone = true;
    });
    for (auto &p : batch)
        p.finish(1); // one delivery batch for all twenty
    QTRY_VERIFY_WITH_TIMEOUT(modalDone, 15000);
    QVERIFY(innerDelivered);
    QTRY_COMPARE_WITH_TIMEOUT(delivered, 20, 10000);
    QTRY_COMPARE_WITH_TIMEOUT(followersDelivered, 38, 10000);
}

QTEST_MAIN(tst_TaskPromise)
#include "tst_taskpromise.moc"
