// offload::Task coroutines: every awaitable, resumption thread, cancellation and context
// destruction at each await point, exceptions, unobserved failures, combinators, progress;
// the main scenarios also written with callbacks. A 1 ms ticker proves the event loop ran.
#include "../common/testsupport.h"
#include "../process/processtestsupport.h"

#include <offload/core/threadpool.h>
#include <offload/coro/awaitables.h>
#include <offload/coro/combinators.h>
#include <offload/coro/task.h>
#include <offload/process/programrunner.h>
#include <offload/process/workerpool.h>

#include <QPromise>
#include <QSemaphore>
#include <QThread>
#include <QtConcurrent>
#include <QtTest>

using namespace offload;
using namespace std::chrono_literals;

namespace {

// Counts 1 ms timer ticks on the main thread: if it advanced, the loop was not blocked.
struct Ticker
{
    QTimer timer;
    int ticks = 0;
    Ticker()
    {
        timer.setInterval(1);
        QObject::connect(&timer, &QTimer::timeout, &timer, [this] { ++ticks; });
        timer.start();
    }
};

struct SetOnDestroy
{
    bool *flag;
    ~SetOnDestroy() { *flag = true; }
};

// A thread task that returns 42 only after the main thread's event loop opened its gate:
// awaiting it proves the loop kept running during the await.
TaskHandle<int> gatedThreadTask(QObject *ctx)
{
    auto gate = std::make_shared<QSemaphore>();
    QTimer::singleShot(20, ctx, [gate] { gate->release(); });
    return run(ctx, [gate] { return gate->tryAcquire(1, 10000) ? 42 : -1; });
}

// Futures that would run for 20 s hold QThreadPool's threads; each test opens this at its end.
QSemaphore s_futureGate;

struct Probe
{
    bool localDestroyed = false;
    bool resumed = false;
    QThread *resumedOn = nullptr;
};

class Signaller : public QObject
{
    Q_OBJECT
Q_SIGNALS:
    void one(int value);
    void two(int value, const QString &text);
    void none();
};

} // namespace

// A widget-like owner whose slot is a coroutine: thread task → worker call → program run.
class Owner : public QObject
{
    Q_OBJECT
public:
    Owner(WorkerPool &pool, ProgramRunner &runner) : m_pool(pool), m_runner(runner) { }

    Task<QString> chain(Probe *probe, Ticker *ticker)
    {
        const int before = ticker->ticks;
        const int value = co_await gatedThreadTask(this);
        if (value != 42)
            throw std::logic_error("the gate never opened");
        // Built outside the co_await expression: GCC 12 miscompiles braced initialisers inside one.
        QJsonObject args;
        args.insert(QStringLiteral("value"), value);
        const WorkerResult echoed = co_await m_pool.submit(this, QStringLiteral("echo"), args);
        ProgramSpec spec;
        spec.program = binPath("testprogram");
        spec.arguments = { "lines" };
        spec.progress = ProgressFormat::Lines;
        const ProgramResult ran = co_await m_runner.run(this, spec);
        probe->resumed = true;
        probe->resumedOn = QThread::currentThread();
        if (ticker->ticks <= before)
            throw std::logic_error("the event loop did not run during the awaits");
        co_return QStringLiteral("%1/%2/%3")
            .arg(value)
            .arg(echoed.value.toObject()["value"].toInt())
            .arg(ran.json.toObject()["answer"].toInt());
    }

    // Awaits one long operation of the given kind; probe records what happened.
    Task<void> awaitLong(QString kind, Probe *probe, std::shared_ptr<TaskHandleBase> started)
    {
        SetOnDestroy local { &probe->localDestroyed };
        if (kind == QLatin1String("thread")) {
            auto t = run(this, [](TaskControl &c) {
                const auto end = std::chrono::steady_clock::now() + 20s;
                while (!c.isCancellationRequested() && std::chrono::steady_clock::now() < end)
                    QThread::msleep(1);
                c.throwIfCancellationRequested();
            });
            *started = t;
            co_await t;
        } else if (kind == QLatin1String("worker")) {
            QJsonObject args;
            args.insert(QStringLiteral("ms"), 20000);
            auto call = m_pool.submit(this, QStringLiteral("sleep"), args);
            *started = call;
            co_await call;
        } else if (kind == QLatin1String("program")) {
            ProgramSpec spec;
            spec.program = binPath("testprogram");
            spec.arguments = { "grandchild" };
            auto r = m_runner.run(this, spec);
            *started = r;
            co_await r;
        } else if (kind == QLatin1String("task")) {
            auto inner = innerSleeper();
            *started = inner;
            co_await inner;
        } else if (kind == QLatin1String("future")) {
            co_await QtConcurrent::run([] { QThread::msleep(200); });
            co_await QtConcurrent::run(
                [] { s_futureGate.tryAcquire(1, 20000); }); // not before the test ends
        } else if (kind == QLatin1String("signal")) {
            Signaller s;
            co_await signal(&s, &Signaller::none);
        } else if (kind == QLatin1String("delay")) {
            co_await delay(20s);
        }
        probe->resumed = true;
    }

    Task<void> innerSleeper() { co_await delay(20s); }

private:
    WorkerPool &m_pool;
    ProgramRunner &m_runner;
};

class tst_Coro : public QObject
{
    Q_OBJECT
    std::unique_ptr<WorkerPool> m_pool;
    std::unique_ptr<ProgramRunner> m_runner;
    Ticker m_ticker;

private Q_SLOTS:
    void initTestCase()
    {
        m_pool = std::make_unique<WorkerPool>(testWorkerSpec(2));
        m_runner = std::make_unique<ProgramRunner>();
    }
    void cleanupTestCase()
    {
        m_pool.reset();
        m_runner.reset();
    }

    void chainAsCoroutine();
    void chainWithCallbacks();
    void resumesOnTheContextThread_data();
    void resumesOnTheContextThread();
    void cancelFromOutsideAtEachAwaitPoint_data();
    void cancelFromOutsideAtEachAwaitPoint();
    void cancelWithCallbacks();
    void destroyingTheContextAtEachAwaitPoint_data();
    void destroyingTheContextAtEachAwaitPoint();
    void destroyingTheContextWithCallbacks_data();
    void destroyingTheContextWithCallbacks();
    void timeoutWithCallbacks();
    void whenAllWithCallbacks();
    void exceptionsPropagateWithTheirOrigin();
    void exceptionsWithCallbacks();
    void awaitedTaskCancelledMeansCancelled();
    void awaitedMemberReassignedMeanwhile();
    void unobservedFailureGoesToTheHandler();
    void signalsValuesTimeoutsAndDeadSenders();
    void delayResumesAfterTheTime();
    void futuresAndToFuture();
    void cancelledQtConcurrentFutureEndsCancelled();
    void withTimeoutCancelsTheWork();
    void whenAllMixed();
    void whenAnyCancelsTheLosers();
    void combinatorsOverOtherAwaitables();
    void progressOwnAndWeighted();
    void weightedProgressNeverChangesAfterTheAwaitResumes();
    void finishedCoroutineReportsItsFullRange();
    void nonFiniteAndHugeProgressFractionsAreClamped();
    void timeoutsNeverFireBeforeTheirDuration_data();
    void timeoutsNeverFireBeforeTheirDuration();
};

// ---- the main scenario: thread task → worker call → program run

void tst_Coro::chainAsCoroutine()
{
    Owner owner(*m_pool, *m_runner);
    Probe probe;
    Task<QString> task = owner.chain(&probe, &m_ticker);
    QCOMPARE(task.kind(), QStringLiteral("coroutine"));
    QVERIFY(!task.isFinal()); // eager, but suspended at its first await
    QVERIFY(task.waitForFinished(0ms) == false);
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 20000);
    if (task.state() == TaskState::Failed)
        QFAIL(qPrintable(task.error().summary()));
    QCOMPARE(task.result(), QStringLiteral("42/42/42"));
    QCOMPARE(probe.resumedOn, QThread::currentThread());
}

void tst_Coro::chainWithCallbacks()
{
    QObject ctx;
    const int before = m_ticker.ticks;
    QString out;
    bool done = false;
    gatedThreadTask(&ctx).onResult([&](int value) {
        m_pool->submit(&ctx, QStringLiteral("echo"), QJsonObject { { "value", value } })
            .onResult([&, value](const WorkerResult &echoed) {
                ProgramSpec spec;
                spec.program = binPath("testprogram");
                spec.arguments = { "lines" };
                spec.progress = ProgressFormat::Lines;
                m_runner->run(&ctx, spec).onResult([&, value, echoed](const ProgramResult &ran) {
                    out = QStringLiteral("%1/%2/%3")
                              .arg(value)
                              .arg(echoed.value.toObject()["value"].toInt())
                              .arg(ran.json.toObject()["answer"].toInt());
                    done = true;
                });
            });
    });
    QTRY_VERIFY_WITH_TIMEOUT(done, 20000);
    QCOMPARE(out, QStringLiteral("42/42/42"));
    QVERIFY(m_ticker.ticks > before);
}

// ---- threads

namespace {
// Where the body ran before its first await, and after it. `first` may have finished already:
// an await that does not suspend must not leave the body on the caller's thread either.
Task<QThread *> whereAmI(QObject *context, TaskHandle<int> first, QThread **before)
{
    *before = QThread::currentThread();
    co_await first;
    co_await run(context, [] { return 1; });
    co_return QThread::currentThread();
}
} // namespace

void tst_Coro::resumesOnTheContextThread_data()
{
    QTest::addColumn<bool>("firstFinished");
    QTest::newRow("first await suspends") << false;
    QTest::newRow("first await already finished") << true;
}

void tst_Coro::resumesOnTheContextThread()
{
    QFETCH(bool, firstFinished);
    QThread other;
    other.start();
    auto *context = new QObject;
    context->moveToThread(&other);
    TaskHandle<int> first = run(context, [] { return 1; });
    if (firstFinished)
        QTRY_VERIFY_WITH_TIMEOUT(first.isFinal(), 10000);
    QThread *before = nullptr;
    Task<QThread *> task = whereAmI(context, first, &before); // called here, on the main thread
    const bool ended = QTest::qWaitFor([&] { return task.isFinal(); }, 10000);
    context->deleteLater(); // carried out as the thread finishes
    other.quit();
    QVERIFY(other.wait(10000));
    QVERIFY(ended);
    QCOMPARE(task.result(), &other);
    QCOMPARE(before, &other); // the whole body ran on the context's thread
}

// ---- cancellation from outside

void tst_Coro::cancelFromOutsideAtEachAwaitPoint_data()
{
    QTest::addColumn<QString>("kind");
    for (const char *k : { "thread", "worker", "program", "task", "future", "signal", "delay" })
        QTest::newRow(k) << QString::fromLatin1(k);
}

void tst_Coro::cancelFromOutsideAtEachAwaitPoint()
{
    QFETCH(QString, kind);
    Owner owner(*m_pool, *m_runner);
    Probe probe;
    auto started = std::make_shared<TaskHandleBase>();
    Task<void> task = owner.awaitLong(kind, &probe, started);
    QTest::qWait(kind == QLatin1String("future")
            ? 300
            : 100); // let it reach the long await (correctness does not depend on it)
    if (kind == QLatin1String("program")) {
        QTRY_VERIFY_WITH_TIMEOUT(started->processInfo().pid > 0, 10000);
    }
    QVERIFY(!task.isFinal());
    task.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    QCOMPARE(task.state(), TaskState::Cancelled);
    QVERIFY(probe.localDestroyed);
    QVERIFY(!probe.resumed);
    if (kind == QLatin1String("future"))
        s_futureGate.release(); // lets the abandoned QtConcurrent function end
    if (started->isValid()) { // the awaited operation was cancelled too, not just abandoned
        QVERIFY(started->isCancellationRequested() || started->state() == TaskState::Cancelled);
        QTRY_COMPARE_WITH_TIMEOUT(started->state(), TaskState::Cancelled, 10000);
    }
}

void tst_Coro::cancelWithCallbacks()
{
    QObject ctx;
    auto t = run(&ctx, [](TaskControl &c) {
        const auto end = std::chrono::steady_clock::now() + 20s;
        while (!c.isCancellationRequested() && std::chrono::steady_clock::now() < end)
            QThread::msleep(1);
        c.throwIfCancellationRequested();
    });
    bool cancelled = false;
    t.onCancelled([&] { cancelled = true; });
    QTest::qWait(50);
    t.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(cancelled, 10000);
}

// ---- the context destroyed mid-await

void tst_Coro::destroyingTheContextAtEachAwaitPoint_data()
{
    cancelFromOutsideAtEachAwaitPoint_data();
}

void tst_Coro::destroyingTheContextAtEachAwaitPoint()
{
    QFETCH(QString, kind);
    auto *owner = new Owner(*m_pool, *m_runner);
    Probe probe;
    auto started = std::make_shared<TaskHandleBase>();
    Task<void> task = owner->awaitLong(kind, &probe, started);
    QTest::qWait(kind == QLatin1String("future") ? 300 : 100);
    QVERIFY(!task.isFinal());
    delete owner; // the window closes mid-way
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    QCOMPARE(task.state(), TaskState::Cancelled);
    QVERIFY(probe.localDestroyed);
    QVERIFY(!probe.resumed); // never resumed into the dead object (ASan would see it)
    if (kind == QLatin1String("future"))
        s_futureGate.release(); // lets the abandoned QtConcurrent function end
    if (started->isValid())
        QTRY_COMPARE_WITH_TIMEOUT(started->state(), TaskState::Cancelled, 10000);
}

// The callback twin: the context dies mid-operation; no callback runs and the work is cancelled.
void tst_Coro::destroyingTheContextWithCallbacks_data()
{
    QTest::addColumn<QString>("kind");
    for (const char *k : { "thread", "worker", "program" })
        QTest::newRow(k) << QString::fromLatin1(k);
}

void tst_Coro::destroyingTheContextWithCallbacks()
{
    QFETCH(QString, kind);
    auto *context = new QObject;
    bool called = false;
    TaskHandleBase op;
    if (kind == QLatin1String("thread")) {
        auto t = run(context, [](TaskControl &c) {
            const auto end = std::chrono::steady_clock::now() + 20s;
            while (!c.isCancellationRequested() && std::chrono::steady_clock::now() < end)
                QThread::msleep(1);
            c.throwIfCancellationRequested();
        });
        t.onFinished([&](const auto &) { called = true; });
        op = t;
    } else if (kind == QLatin1String("worker")) {
        QJsonObject args;
        args.insert(QStringLiteral("ms"), 20000);
        auto call = m_pool->submit(context, QStringLiteral("sleep"), args);
        call.onFinished([&](const auto &) { called = true; });
        op = call;
    } else {
        ProgramSpec spec;
        spec.program = binPath("testprogram");
        spec.arguments = { "sleep", "20000" };
        auto r = m_runner->run(context, spec);
        r.onFinished([&](const auto &) { called = true; });
        op = r;
    }
    QTest::qWait(100);
    delete context;
    QTRY_COMPARE_WITH_TIMEOUT(op.state(), TaskState::Cancelled, 10000);
    QTest::qWait(20); // a callback for the dead context would have been posted by now
    QVERIFY(!called);
}

void tst_Coro::timeoutWithCallbacks()
{
    QObject ctx;
    auto saw = std::make_shared<std::atomic<bool>>(false);
    auto started = std::make_shared<std::atomic<bool>>(false);
    auto slow = run(&ctx, [saw, started](TaskControl &c) {
        started->store(true);
        const auto end = std::chrono::steady_clock::now() + 20s;
        while (std::chrono::steady_clock::now() < end) {
            if (c.isCancellationRequested()) {
                saw->store(true);
                c.throwIfCancellationRequested();
            }
            QThread::msleep(1);
        }
        return 1;
    });
    // Started first: a task cancelled before it starts never runs, and its body is what must see
    // it.
    QTRY_VERIFY_WITH_TIMEOUT(started->load(), 10000);
    QTimer::singleShot(50, &ctx, [slow] { slow.cancel(); }); // the callback way to a timeout
    QTRY_COMPARE_WITH_TIMEOUT(slow.state(), TaskState::Cancelled, 10000);
    QVERIFY(saw->load());
}

void tst_Coro::whenAllWithCallbacks()
{
    QObject ctx;
    int pending = 3, sum = 0;
    for (int i = 1; i <= 3; ++i)
        run(&ctx, [i] { return i; }).onResult([&](int v) {
            sum += v;
            --pending;
        });
    QTRY_COMPARE_WITH_TIMEOUT(pending, 0, 10000);
    QCOMPARE(sum, 6);
}

// ---- exceptions

namespace {
Task<int> throwsInThread(QObject *ctx)
{
    co_return co_await run(ctx, []() -> int { throw std::runtime_error("disk full"); });
}

Task<QString> catchesWorkerError(QObject *ctx, WorkerPool *pool)
{
    try {
        co_await pool->submit(ctx, QStringLiteral("fail"), {});
    } catch (const Exception &e) {
        co_return e.error().origin + QLatin1Char('|') + e.error().message;
    }
    co_return QString();
}
} // namespace

void tst_Coro::exceptionsPropagateWithTheirOrigin()
{
    QObject ctx;
    Task<int> failing = throwsInThread(&ctx);
    QTRY_VERIFY_WITH_TIMEOUT(failing.isFinal(), 10000);
    QCOMPARE(failing.state(), TaskState::Failed);
    QCOMPARE(failing.error().origin, QStringLiteral("std::runtime_error"));
    QCOMPARE(failing.error().message, QStringLiteral("disk full"));

    Task<QString> caught = catchesWorkerError(&ctx, m_pool.get());
    QTRY_VERIFY_WITH_TIMEOUT(caught.isFinal(), 10000);
    QCOMPARE(caught.state(), TaskState::Finished);
    QVERIFY2(
        caught.result().contains(QStringLiteral("invalid_argument")), qPrintable(caught.result()));
    QVERIFY2(
        caught.result().contains(QStringLiteral("bad input value")), qPrintable(caught.result()));
}

void tst_Coro::exceptionsWithCallbacks()
{
    QObject ctx;
    std::optional<Error> error;
    run(&ctx, []() -> int { throw std::runtime_error("disk full"); }).onError([&](const Error &e) {
        error = e;
    });
    QTRY_VERIFY_WITH_TIMEOUT(error.has_value(), 10000);
    QCOMPARE(error->origin, QStringLiteral("std::runtime_error"));
}

namespace {
Task<void> awaitsACancelledTask(QObject *ctx, bool *after)
{
    auto t = run(ctx, [](TaskControl &c) {
        while (!c.isCancellationRequested())
            QThread::msleep(1);
        c.throwIfCancellationRequested();
    });
    QTimer::singleShot(30, ctx, [t] { t.cancel(); }); // someone else cancels the awaited task
    co_await t;
    *after = true;
}

Task<void> failsUnobserved(QObject *ctx)
{
    co_await run(ctx, [] { return 1; });
    throw std::invalid_argument("nobody listens");
}

Task<void> failsAtOnce()
{
    throw std::length_error("before any await");
    co_return;
}
} // namespace

namespace {
// Awaits a member handle that a slot replaces while the coroutine is suspended.
class Holder : public QObject
{
public:
    TaskHandle<int> current;
    Task<int> awaitCurrent() { co_return co_await current; }
};
} // namespace

void tst_Coro::awaitedMemberReassignedMeanwhile()
{
    Holder holder;
    auto gate = std::make_shared<QSemaphore>();
    holder.current = run(&holder, [gate] { return gate->tryAcquire(1, 10000) ? 1 : -1; });
    Task<int> task = holder.awaitCurrent();
    holder.current = run(&holder, [] { return 2; }); // the only handle of the first task is gone
    gate->release();
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    QCOMPARE(task.result(), 1); // what was awaited, alive until the coroutine resumed (ASan)
}

void tst_Coro::awaitedTaskCancelledMeansCancelled()
{
    QObject ctx;
    bool after = false;
    Task<void> task = awaitsACancelledTask(&ctx, &after);
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    QCOMPARE(task.state(), TaskState::Cancelled); // not Failed
    QVERIFY(!after);
}

void tst_Coro::unobservedFailureGoesToTheHandler()
{
    QList<QPair<QString, Error>> reports;
    const auto previous = setUnhandledErrorHandler([&](const QString &name, const Error &e) {
        reports.append({ name, e });
    });
    QObject ctx;
    failsUnobserved(&ctx); // a slot started by a signal: the Task is dropped at once
    QTRY_COMPARE_WITH_TIMEOUT(reports.size(), 1, 10000);
    QCOMPARE(reports[0].second.origin, QStringLiteral("std::invalid_argument"));
    QCOMPARE(reports[0].second.message, QStringLiteral("nobody listens"));

    failsAtOnce(); // fails before its first await; reported when the dropped Task goes
    QCOMPARE(reports.size(), 2);
    QCOMPARE(reports[1].second.origin, QStringLiteral("std::length_error"));

    bool heard = false; // observed: not reported
    failsUnobserved(&ctx).onError([&](const Error &) { heard = true; });
    QTRY_VERIFY_WITH_TIMEOUT(heard, 10000);
    {
        Task<void> held = failsUnobserved(&ctx); // held and awaited by nobody, then inspected
        QTRY_VERIFY_WITH_TIMEOUT(held.isFinal(), 10000);
        QCOMPARE(reports.size(), 2); // while a Task is held, its owner is responsible
    }
    QCOMPARE(reports.size(), 2); // its owner read its state: observed, not reported
    {
        Task<void> held = failsUnobserved(&ctx);
        const TaskHandleBase &base = held; // read through a base: observed all the same
        QTRY_VERIFY_WITH_TIMEOUT(base.isFinal(), 10000);
    }
    QCOMPARE(reports.size(), 2);
    failsUnobserved(&ctx).waitForFinished(0ms); // waits, never reads its state
    QTRY_COMPARE_WITH_TIMEOUT(reports.size(), 3, 10000);
    setUnhandledErrorHandler(previous);
}

// ---- signals, delays, futures

namespace {
Task<QString> signalScenarios(Signaller *s)
{
    QString out;
    QTimer::singleShot(5, s, [s] { Q_EMIT s->one(7); });
    const int one = co_await signal(s, &Signaller::one);
    out += QString::number(one);
    QTimer::singleShot(5, s, [s] { Q_EMIT s->two(8, QStringLiteral("eight")); });
    const auto [n, text] = co_await signal(s, &Signaller::two);
    out += QStringLiteral(",%1:%2").arg(n).arg(text);
    const std::optional<int> none = co_await signal(s, &Signaller::one, 30ms);
    out += none ? QStringLiteral(",emitted") : QStringLiteral(",timeout");
    QTimer timer;
    timer.setSingleShot(true);
    timer.start(5);
    co_await signal(&timer, &QTimer::timeout); // a private signal: no value
    out += QStringLiteral(",timer");
    auto *doomed = new Signaller;
    QTimer::singleShot(5, doomed, [doomed] { delete doomed; });
    const auto gone = co_await signal(doomed, &Signaller::none, 10s);
    out += gone ? QStringLiteral(",emitted") : QStringLiteral(",gone");
    auto *doomed2 = new Signaller;
    QTimer::singleShot(5, doomed2, [doomed2] { delete doomed2; });
    try {
        co_await signal(doomed2, &Signaller::one);
        out += QStringLiteral(",emitted");
    } catch (const Exception &) {
        out += QStringLiteral(",threw");
    }
    co_return out;
}

Task<qint64> delays(QElapsedTimer *clock)
{
    clock->start();
    co_await delay(50ms);
    co_return clock->elapsed();
}

Task<int> futures()
{
    const int a = co_await QtConcurrent::run([] { return 20; });
    co_await QtConcurrent::run([] {});
    try {
        co_await QtConcurrent::run([]() -> int { throw QUnhandledException(); });
    } catch (...) {
        co_return a + 1;
    }
    co_return a;
}

Task<void> awaitsAFuture(QFuture<void> f, bool *after)
{
    co_await f;
    *after = true;
}
} // namespace

void tst_Coro::signalsValuesTimeoutsAndDeadSenders()
{
    Signaller s;
    Task<QString> task = signalScenarios(&s);
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    if (task.state() == TaskState::Failed)
        QFAIL(qPrintable(task.error().summary()));
    QCOMPARE(task.result(), QStringLiteral("7,8:eight,timeout,timer,gone,threw"));
}

void tst_Coro::delayResumesAfterTheTime()
{
    QElapsedTimer clock;
    const int before = m_ticker.ticks;
    Task<qint64> task = delays(&clock);
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    QVERIFY(task.result() >= 49);
    QVERIFY(m_ticker.ticks > before);
}

void tst_Coro::futuresAndToFuture()
{
    Task<int> task = futures();
    QFuture<int> f = task.toFuture();
    QTRY_VERIFY_WITH_TIMEOUT(f.isFinished(), 10000);
    QCOMPARE(f.result(), 21);
}

void tst_Coro::cancelledQtConcurrentFutureEndsCancelled()
{
    // QCoro 0.8 freezes and then crashes here; the coroutine must end Cancelled.
    auto gate = std::make_shared<QSemaphore>();
    QFuture<void> f = QtConcurrent::run([gate] { gate->tryAcquire(1, 10000); });
    bool after = false;
    Task<void> task = awaitsAFuture(f, &after);
    QTest::qWait(20);
    f.cancel(); // from outside, mid-run
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    QCOMPARE(task.state(), TaskState::Cancelled);
    QVERIFY(!after);
    gate->release();
    f.waitForFinished();
}

// ---- combinators

namespace {
// What a slow thread task's body saw: whether it started and whether it saw the cancellation.
struct SlowProbe
{
    std::atomic<bool> started { false };
    std::atomic<bool> sawCancel { false };
};

TaskHandle<int> slowThread(QObject *ctx, std::shared_ptr<SlowProbe> probe, int ms)
{
    return run(ctx, [probe, ms](TaskControl &c) {
        probe->started.store(true);
        const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
        while (std::chrono::steady_clock::now() < end) {
            if (c.isCancellationRequested()) {
                probe->sawCancel.store(true);
                c.throwIfCancellationRequested();
            }
            QThread::msleep(1);
        }
        return ms;
    });
}

Task<int> timesOut(TaskHandle<int> slow)
{
    co_return co_await withTimeout(std::move(slow), 50ms);
}
Task<int> inTime(QObject *ctx, std::shared_ptr<SlowProbe> probe)
{
    co_return co_await withTimeout(slowThread(ctx, probe, 10), 10s);
}
} // namespace

void tst_Coro::withTimeoutCancelsTheWork()
{
    QObject ctx;
    auto probe = std::make_shared<SlowProbe>();
    TaskHandle<int> slow = slowThread(&ctx, probe, 20000);
    // Started first, so that its body must see the request (a task cancelled before it starts
    // never runs at all).
    QTRY_VERIFY_WITH_TIMEOUT(probe->started.load(), 10000);
    Task<int> late = timesOut(slow);
    QTRY_VERIFY_WITH_TIMEOUT(late.isFinal(), 10000);
    QCOMPARE(late.state(), TaskState::Failed);
    QCOMPARE(late.error().kind, ErrorKind::Timeout);
    QTRY_VERIFY_WITH_TIMEOUT(probe->sawCancel.load(), 10000); // the work itself was told to stop
    QTRY_COMPARE_WITH_TIMEOUT(slow.state(), TaskState::Cancelled, 10000);

    auto probe2 = std::make_shared<SlowProbe>();
    Task<int> ok = inTime(&ctx, probe2);
    QTRY_VERIFY_WITH_TIMEOUT(ok.isFinal(), 10000);
    QCOMPARE(ok.result(), 10);
    QVERIFY(!probe2->sawCancel.load());
}

namespace {
Task<QString> allOk(QObject *ctx)
{
    auto [a, b, c] = co_await whenAll(
        run(ctx, [] { return 1; }), run(ctx, [] {}), run(ctx, [] { return QStringLiteral("x"); }));
    Q_UNUSED(b);
    co_return QStringLiteral("%1%2").arg(a).arg(c);
}
// The slow input is made by the caller, which checks its state afterwards: the pool may
// cancel it before it ever starts, so its body seeing the request cannot be required.
Task<void> allWithFailure(QObject *ctx, TaskHandle<int> slow)
{
    co_await whenAll(
        std::move(slow), run(ctx, []() -> int { throw std::runtime_error("one failed"); }));
}
Task<int> allRange(QObject *ctx)
{
    std::vector<TaskHandle<int>> tasks;
    for (int i = 1; i <= 4; ++i)
        tasks.push_back(run(ctx, [i] { return i; }));
    const std::vector<int> values = co_await whenAll(tasks);
    int sum = 0;
    for (int v : values)
        sum += v;
    co_return sum;
}
Task<std::size_t> anyFirst(QObject *ctx, TaskHandle<int> slow)
{
    co_return co_await whenAny(std::move(slow), slowThread(ctx, std::make_shared<SlowProbe>(), 5));
}
Task<int> anyRangeFailing(QObject *ctx, TaskHandle<int> slow)
{
    std::vector<TaskHandle<int>> tasks { std::move(slow),
        run(ctx, []() -> int { throw std::runtime_error("first to end"); }) };
    const auto [index, value] = co_await whenAny(tasks);
    co_return int(index) + value;
}
} // namespace

void tst_Coro::whenAllMixed()
{
    QObject ctx;
    Task<QString> ok = allOk(&ctx);
    QTRY_VERIFY_WITH_TIMEOUT(ok.isFinal(), 10000);
    QCOMPARE(ok.result(), QStringLiteral("1x"));

    auto probe = std::make_shared<SlowProbe>();
    TaskHandle<int> slow = slowThread(&ctx, probe, 20000);
    Task<void> failing = allWithFailure(&ctx, slow);
    QTRY_VERIFY_WITH_TIMEOUT(failing.isFinal(), 10000);
    QCOMPARE(failing.state(), TaskState::Failed);
    QCOMPARE(failing.error().message, QStringLiteral("one failed"));
    QTRY_VERIFY_WITH_TIMEOUT(slow.isFinal(), 10000); // the slow one was cancelled
    QCOMPARE(slow.state(), TaskState::Cancelled);

    Task<int> range = allRange(&ctx);
    QTRY_VERIFY_WITH_TIMEOUT(range.isFinal(), 10000);
    QCOMPARE(range.result(), 10);

    TaskHandle<int> slow2 = slowThread(&ctx, probe, 20000);
    Task<void> cancelled = allWithFailure(&ctx, slow2);
    cancelled.cancel(); // cancelling whenAll's awaiter reaches every input
    QTRY_VERIFY_WITH_TIMEOUT(cancelled.isFinal(), 10000);
    QCOMPARE(cancelled.state(), TaskState::Cancelled);
    QTRY_VERIFY_WITH_TIMEOUT(slow2.isFinal(), 10000);
    QCOMPARE(slow2.state(), TaskState::Cancelled);
}

void tst_Coro::whenAnyCancelsTheLosers()
{
    QObject ctx;
    auto probe = std::make_shared<SlowProbe>();
    TaskHandle<int> loser = slowThread(&ctx, probe, 20000);
    Task<std::size_t> first = anyFirst(&ctx, loser);
    QTRY_VERIFY_WITH_TIMEOUT(first.isFinal(), 10000);
    QCOMPARE(first.result(), std::size_t(1));
    QTRY_VERIFY_WITH_TIMEOUT(loser.isFinal(), 10000);
    QCOMPARE(loser.state(), TaskState::Cancelled);

    TaskHandle<int> loser2 = slowThread(&ctx, probe, 20000);
    Task<int> failing = anyRangeFailing(&ctx, loser2);
    QTRY_VERIFY_WITH_TIMEOUT(failing.isFinal(), 10000);
    QCOMPARE(failing.state(), TaskState::Failed);
    QCOMPARE(failing.error().message, QStringLiteral("first to end"));
    QTRY_VERIFY_WITH_TIMEOUT(loser2.isFinal(), 10000);
    QCOMPARE(loser2.state(), TaskState::Cancelled);
}

namespace {
// A QFuture that never ends by itself, under withTimeout: the future is cancelled.
Task<int> futureTimesOut(QFuture<int> never)
{
    co_return co_await withTimeout(never, 50ms);
}
// A signal beats a long delay; a QFuture, a thread task and a short delay all end.
Task<QString> mixed(QObject *ctx, Signaller *s)
{
    QTimer::singleShot(10, s, [s] { Q_EMIT s->one(5); });
    const std::size_t winner = co_await whenAny(delay(20s), signal(s, &Signaller::one));
    auto future = QtConcurrent::run([] { return 3; });
    auto [fromThread, fromFuture, slept]
        = co_await whenAll(run(ctx, [] { return 2; }), future, delay(1ms));
    Q_UNUSED(slept);
    co_return QStringLiteral("%1:%2+%3").arg(winner).arg(fromThread).arg(fromFuture);
}
} // namespace

void tst_Coro::combinatorsOverOtherAwaitables()
{
    QPromise<int> promise;
    promise.start();
    Task<int> late = futureTimesOut(promise.future());
    QTRY_VERIFY_WITH_TIMEOUT(late.isFinal(), 10000);
    QCOMPARE(late.state(), TaskState::Failed);
    QCOMPARE(late.error().kind, ErrorKind::Timeout);
    QVERIFY(promise.isCanceled()); // the work was told to stop, not just the wait

    QObject ctx;
    Signaller s;
    const int before = m_ticker.ticks;
    Task<QString> task = mixed(&ctx, &s);
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    if (task.state() == TaskState::Failed)
        QFAIL(qPrintable(task.error().summary()));
    QCOMPARE(task.result(), QStringLiteral("1:2+3"));
    QVERIFY(m_ticker.ticks > before);

    Task<void> waiting = toTask(delay(20s), QStringLiteral("long wait"));
    QCOMPARE(waiting.name(), QStringLiteral("long wait"));
    waiting.cancel();
    QTRY_VERIFY_WITH_TIMEOUT(waiting.isFinal(), 10000);
    QCOMPARE(waiting.state(), TaskState::Cancelled);
}

// ---- progress

namespace {
Task<void> weightedSteps(QObject *ctx, std::shared_ptr<QSemaphore> gate)
{
    auto self = co_await thisTask();
    self.setName(QStringLiteral("two steps"));
    self.setProgress(0.1, QStringLiteral("starting"));
    co_await weighted(run(ctx,
                          [](TaskControl &c) {
                              c.setProgressRange(0, 10);
                              c.setProgress(10);
                          }),
        0.4);
    // Named before the co_await: GCC 12 destroys a lambda's by-copy captures twice when the
    // lambda is a temporary inside a co_await expression (docs/coroutines.md).
    auto stepTwo = run(ctx, [gate](TaskControl &c) {
        c.setProgressRange(0, 10);
        c.setProgress(5, QStringLiteral("half of step two"));
        gate->tryAcquire(1, 10000);
        c.setProgress(10);
    });
    co_await weighted(stepTwo, 0.5);
}
} // namespace

void tst_Coro::progressOwnAndWeighted()
{
    QObject ctx;
    auto gate = std::make_shared<QSemaphore>();
    Task<void> task = weightedSteps(&ctx, gate);
    QCOMPARE(task.name(), QStringLiteral("two steps"));
    QList<double> seen;
    task.onProgress([&](const Progress &p) { seen << p.fraction(); });
    // During step two (weight 0.5 after 0.1 + 0.4): half of it done → 0.75.
    QTRY_VERIFY_WITH_TIMEOUT(qAbs(task.progress().fraction() - 0.75) < 1e-6, 10000);
    QCOMPARE(task.progress().text, QStringLiteral("half of step two"));
    gate->release();
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    QCOMPARE(task.state(), TaskState::Finished);
    QCOMPARE(task.progress().fraction(), 1.0);
    QVERIFY(!seen.isEmpty());
}

namespace {
// Three steps that report progress as fast as they can, up to half of their own range, and end
// there. After each weighted await has resumed and the step's end (its last progress report
// included) has been delivered, the coroutine's progress is exactly what its awaits filled.
Task<QList<double>> rapidSteps(
    QObject *ctx, QFuture<void> started, std::shared_ptr<TaskHandleBase> me)
{
    co_await started; // `me` refers to this coroutine from here on
    QList<double> afterEach;
    const double weights[] = { 0.3, 0.3, 0.4 };
    for (const double w : weights) {
        auto step = run(ctx, [](TaskControl &c) {
            constexpr int reports = 5000;
            for (int i = 0; i < reports; ++i)
                c.setFraction(0.5 * i / reports);
        });
        auto delivered = std::make_shared<QPromise<void>>();
        delivered->start();
        const QFuture<void> end = delivered->future();
        step.onFinished([delivered](const auto &) { delivered->finish(); });
        co_await weighted(step, w);
        co_await end; // the step's last deliveries (its progress, then its end) have run
        afterEach << me->progress().fraction();
    }
    co_return afterEach;
}
} // namespace

void tst_Coro::weightedProgressNeverChangesAfterTheAwaitResumes()
{
    QObject ctx;
    const QList<double> expected { 0.3, 0.6, 1.0 };
    for (int round = 0; round < 20; ++round) {
        QPromise<void> go;
        go.start();
        auto me = std::make_shared<TaskHandleBase>();
        Task<QList<double>> task = rapidSteps(&ctx, go.future(), me);
        *me = task;
        go.finish();
        QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 20000);
        if (task.state() == TaskState::Failed)
            QFAIL(qPrintable(task.error().summary()));
        const QList<double> afterEach = task.result();
        QCOMPARE(afterEach.size(), expected.size());
        for (qsizetype i = 0; i < expected.size(); ++i) {
            if (qAbs(afterEach[i] - expected[i]) > 1e-6)
                QFAIL(qPrintable(QStringLiteral("round %1, after step %2: progress %3, expected %4")
                                     .arg(round)
                                     .arg(i + 1)
                                     .arg(afterEach[i])
                                     .arg(expected[i])));
        }
        const Progress p = task.progress();
        QVERIFY(p.isDeterminate());
        QCOMPARE(p.value, p.maximum);
    }
}

namespace {
Task<void> weightedShareOnly(QObject *ctx)
{
    auto step = run(ctx, [](TaskControl &c) { c.setFraction(1.0); });
    co_await weighted(step, 0.3);
}
} // namespace

void tst_Coro::finishedCoroutineReportsItsFullRange()
{
    QObject ctx;
    Task<void> task = weightedShareOnly(&ctx);
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    QCOMPARE(task.state(), TaskState::Finished);
    const Progress p = task.progress();
    QVERIFY(p.isDeterminate());
    QCOMPARE(p.value, p.maximum);
}

namespace {
// The coroutine's progress right after each setProgress, then after a weighted await that
// follows a NaN (whose base must be sane: 0, so the step fills 0..0.5).
Task<QList<Progress>> progressFor(QObject *ctx, QList<double> fractions, QFuture<void> started,
    std::shared_ptr<TaskHandleBase> me)
{
    co_await started;
    auto self = co_await thisTask();
    QList<Progress> seen;
    for (const double f : fractions) {
        self.setProgress(f);
        seen << me->progress();
    }
    self.setProgress(std::numeric_limits<double>::quiet_NaN());
    auto step = run(ctx, [](TaskControl &c) { c.setFraction(1.0); });
    co_await weighted(step, 0.5);
    seen << me->progress();
    co_return seen;
}
} // namespace

void tst_Coro::nonFiniteAndHugeProgressFractionsAreClamped()
{
    constexpr double inf = std::numeric_limits<double>::infinity();
    const QList<double> fractions { std::numeric_limits<double>::quiet_NaN(), inf, -inf, 1e300,
        -1e300, 0.25, 2.0, -0.5 };
    const QList<double> expected { 0.0, 1.0, 0.0, 1.0, 0.0, 0.25, 1.0, 0.0, 0.5 };
    QObject ctx;
    QPromise<void> go;
    go.start();
    auto me = std::make_shared<TaskHandleBase>();
    Task<QList<Progress>> task = progressFor(&ctx, fractions, go.future(), me);
    *me = task;
    go.finish();
    QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
    if (task.state() == TaskState::Failed)
        QFAIL(qPrintable(task.error().summary()));
    const QList<Progress> seen = task.result();
    QCOMPARE(seen.size(), expected.size());
    for (qsizetype i = 0; i < seen.size(); ++i) {
        const Progress &p = seen[i];
        QCOMPARE(p.minimum, 0);
        QCOMPARE(p.maximum, 1'000'000);
        if (p.value < 0 || p.value > p.maximum || qAbs(p.fraction() - expected[i]) > 1e-6)
            QFAIL(qPrintable(QStringLiteral("report %1: value %2, expected fraction %3")
                                 .arg(i)
                                 .arg(p.value)
                                 .arg(expected[i])));
    }
}

// ---- timeouts: never before their duration (steady clock; Qt's coarse timers fire up to 5% early)

namespace {
Task<std::chrono::nanoseconds> timeoutElapsed(
    QString kind, std::chrono::milliseconds duration, Signaller *silent)
{
    const auto start = std::chrono::steady_clock::now();
    if (kind == QLatin1String("withTimeout")) {
        auto slow = toTask(delay(20s));
        auto inTime = withTimeout(slow, duration);
        bool timedOut = false;
        try {
            co_await inTime;
        } catch (const Exception &e) {
            timedOut = e.error().kind == ErrorKind::Timeout;
        }
        if (!timedOut)
            throw std::logic_error("withTimeout did not time out");
    } else if (kind == QLatin1String("signal")) {
        const auto emitted = co_await signal(silent, &Signaller::none, duration);
        if (emitted)
            throw std::logic_error("the silent signaller emitted");
    } else {
        co_await delay(duration);
    }
    co_return std::chrono::steady_clock::now() - start;
}
} // namespace

void tst_Coro::timeoutsNeverFireBeforeTheirDuration_data()
{
    QTest::addColumn<QString>("kind");
    QTest::newRow("withTimeout") << QStringLiteral("withTimeout");
    QTest::newRow("signal with timeout") << QStringLiteral("signal");
    QTest::newRow("delay") << QStringLiteral("delay");
}

void tst_Coro::timeoutsNeverFireBeforeTheirDuration()
{
    QFETCH(QString, kind);
    Signaller silent;
    for (const auto duration : { 23ms, 110ms, 240ms, 470ms }) {
        Task<std::chrono::nanoseconds> task = timeoutElapsed(kind, duration, &silent);
        QTRY_VERIFY_WITH_TIMEOUT(task.isFinal(), 10000);
        if (task.state() == TaskState::Failed)
            QFAIL(qPrintable(task.error().summary()));
        const auto elapsed = task.result();
        if (elapsed < duration)
            QFAIL(qPrintable(QStringLiteral("%1 ms: fired after %2 ms")
                                 .arg(duration.count())
                                 .arg(double(elapsed.count()) / 1e6, 0, 'f', 3)));
    }
}

QTEST_GUILESS_MAIN(tst_Coro)
#include "tst_coro.moc"
