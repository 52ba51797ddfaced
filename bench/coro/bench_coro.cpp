// bench_coro: Offload coroutines against QCoro (Debian's qcoro-qt6-dev); each run of each side with
// a peer is a child process (bench/common/isolate.h), alternating who goes first.
//   await_ready_ns        co_await of an already-finished task (per await)
//   await_thread_rtt_p50  co_await of an empty thread task from a coroutine on the GUI thread;
//                         peer: QCoro awaiting QtConcurrent::run
//   cancel_to_stopped_ms  cancel() of a coroutine awaiting a worker call stuck in a loop, until
//                         the worker process is gone (no peer: QCoro cannot cancel)
#include "../common/benchreport.h"
#include "../common/isolate.h"

#include <offload/core/threadpool.h>
#include <offload/coro/task.h>
#include <offload/process/workerpool.h>

#include <QCoro/QCoroFuture>
#include <QCoro/QCoroTask>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QTimer>
#include <QtConcurrent>

#include <optional>

using namespace std::chrono_literals;

namespace {

void spinUntil(const bool &done)
{
    QEventLoop loop;
    QTimer poll;
    QObject::connect(&poll, &QTimer::timeout, &loop, [&] {
        if (done)
            loop.quit();
    });
    poll.start(1);
    QTimer::singleShot(60000, &loop, [&loop] { // bounded: a hung await ends the run, reported below
        std::fprintf(stderr, "bench_coro: an await did not finish within 60 s\n");
        loop.quit();
    });
    if (!done)
        loop.exec();
}

// ---- await_ready_ns

offload::Task<qint64> oursReady(offload::TaskHandle<int> finished, int n, qint64 *ns)
{
    QElapsedTimer t;
    t.start();
    qint64 sum = 0;
    for (int i = 0; i < n; ++i)
        sum += co_await finished;
    *ns = t.nsecsElapsed();
    co_return sum;
}

QCoro::Task<int> qcoroValue()
{
    co_return 1;
}

QCoro::Task<qint64> peerReady(int n, qint64 *ns)
{
    QCoro::Task<int> finished = qcoroValue(); // eager: finished on return
    QElapsedTimer t;
    t.start();
    qint64 sum = 0;
    for (int i = 0; i < n; ++i)
        sum += co_await finished;
    *ns = t.nsecsElapsed();
    co_return sum;
}

// One side, in a child: nanoseconds per co_await of a finished task.
QJsonObject awaitReadySide(bool ours)
{
    const int n = 20'000'000; // ~50 ms: long enough that a frequency step is averaged out
    qint64 ns = 0;
    if (ours) {
        QObject ctx;
        auto finished = offload::run(&ctx, [] { return 1; });
        finished.waitForFinished(10s);
        auto a = oursReady(finished, n, &ns);
        if (a.state() != offload::TaskState::Finished || a.result() != n)
            return {}; // no result: counted as a failed run
    } else {
        auto b = peerReady(n, &ns);
        Q_UNUSED(b);
    }
    return { { QStringLiteral("ns"), double(ns) / n }, { QStringLiteral("awaits"), n } };
}

int reportAwaitReady()
{
    bench::Figure f { QStringLiteral("coro"), QStringLiteral("await_ready_ns"),
        QStringLiteral("ns") };
    f.peerName = QStringLiteral("QCoro 0.8 co_await of a finished QCoro::Task");
    for (const auto &[o, p] : bench::measureIsolated(QStringLiteral("await_ready"), { &f })) {
        f.ours.push_back(o.value(QLatin1String("ns")).toDouble());
        f.peer.push_back(p.value(QLatin1String("ns")).toDouble());
        f.extra.insert(QStringLiteral("awaits_per_run"), o.value(QLatin1String("awaits")));
    }
    f.extra.insert(QStringLiteral("target_ratio_max"), 1.0);
    bench::report(f);
    return f.oursFailures;
}

// ---- await_thread_rtt_p50

offload::Task<void> oursRtt(QObject *ctx, int n, std::vector<double> *us, bool *done)
{
    for (int i = 0; i < n; ++i) {
        QElapsedTimer t;
        t.start();
        co_await offload::run(ctx, [] { return 1; });
        us->push_back(double(t.nsecsElapsed()) / 1000.0);
    }
    *done = true;
}

QCoro::Task<void> peerRtt(int n, std::vector<double> *us, bool *done)
{
    for (int i = 0; i < n; ++i) {
        QElapsedTimer t;
        t.start();
        co_await QtConcurrent::run([] { return 1; });
        us->push_back(double(t.nsecsElapsed()) / 1000.0);
    }
    *done = true;
}

// One side, in a child: round trips after a warm-up, p50 and p99.
QJsonObject awaitThreadRttSide(bool ours)
{
    QObject ctx;
    const auto measure = [&](int n) {
        std::vector<double> us;
        bool done = false;
        if (ours) {
            auto a = oursRtt(&ctx, n, &us, &done);
            spinUntil(done);
        } else {
            auto b = peerRtt(n, &us, &done);
            spinUntil(done);
        }
        return done ? us : std::vector<double> {};
    };
    measure(300);
    const auto us = measure(2000);
    if (us.empty())
        return {};
    return { { QStringLiteral("p50"), bench::percentile(us, 0.5) },
        { QStringLiteral("p99"), bench::percentile(us, 0.99) },
        { QStringLiteral("awaits"), int(us.size()) } };
}

int reportAwaitThreadRtt()
{
    bench::Figure p50 { QStringLiteral("coro"), QStringLiteral("await_thread_rtt_p50"),
        QStringLiteral("us") };
    bench::Figure p99 { QStringLiteral("coro"), QStringLiteral("await_thread_rtt_p99"),
        QStringLiteral("us") };
    p50.peerName = p99.peerName = QStringLiteral("QCoro 0.8 awaiting QtConcurrent::run");
    for (const auto &[o, p] :
        bench::measureIsolated(QStringLiteral("await_thread_rtt"), { &p50, &p99 })) {
        p50.ours.push_back(o.value(QLatin1String("p50")).toDouble());
        p50.peer.push_back(p.value(QLatin1String("p50")).toDouble());
        p99.ours.push_back(o.value(QLatin1String("p99")).toDouble());
        p99.peer.push_back(p.value(QLatin1String("p99")).toDouble());
    }
    p50.extra.insert(QStringLiteral("awaits_per_run"), 2000);
    p50.extra.insert(QStringLiteral("target_ratio_max"), 1.0);
    bench::report(p50);
    bench::report(p99);
    return p50.oursFailures;
}

// ---- cancel_to_stopped_ms

offload::Task<void> awaitStuckCall(
    offload::WorkerPool *pool, QObject *ctx, offload::TaskHandle<offload::WorkerResult> *call)
{
    *call = pool->submit(ctx, QStringLiteral("spin"), {});
    co_await *call;
}

bool processGone(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return true;
    const QByteArray s = stat.readAll();
    const qsizetype close = s.lastIndexOf(')');
    return close < 0 || close + 2 >= s.size() || s.at(close + 2) == 'Z' || s.at(close + 2) == 'X';
}

void cancelToStopped()
{
    bench::Figure f { QStringLiteral("coro"), QStringLiteral("cancel_to_stopped_ms"),
        QStringLiteral("ms") };
    offload::WorkerPoolSpec spec;
    spec.program = QCoreApplication::applicationDirPath() + QStringLiteral("/bench_worker");
    spec.maxWorkers = 1;
    spec.cancelGrace = 300ms;
    offload::WorkerPool pool(spec);
    QObject ctx;
    for (int round = 0; round < 5; ++round) {
        offload::TaskHandle<offload::WorkerResult> call;
        auto task = awaitStuckCall(&pool, &ctx, &call);
        bool running = false;
        QElapsedTimer wait;
        wait.start();
        while (!running && wait.elapsed() < 10000) { // until the worker runs the call
            QCoreApplication::processEvents(QEventLoop::AllEvents, 5);
            running = call.state() == offload::TaskState::Running && call.processInfo().pid > 0;
        }
        const qint64 pid = call.processInfo().pid;
        QThread::msleep(20);
        QElapsedTimer t;
        t.start();
        task.cancel();
        while (!processGone(pid) && t.elapsed() < 10000)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 1);
        f.ours.push_back(double(t.nsecsElapsed()) / 1e6);
        bool ended = false; // the coroutine itself ended Cancelled
        while (!ended && t.elapsed() < 10000) {
            QCoreApplication::processEvents(QEventLoop::AllEvents, 1);
            ended = task.state() == offload::TaskState::Cancelled;
        }
        if (!ended)
            std::fprintf(stderr, "cancel_to_stopped: the coroutine did not end Cancelled\n");
    }
    f.extra.insert(QStringLiteral("grace_ms"), 300);
    f.extra.insert(QStringLiteral("target_max_ms"), 320);
    f.extra.insert(
        QStringLiteral("peer_note"), QStringLiteral("QCoro cannot cancel an awaited operation"));
    bench::report(f);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QStringList one;
    if (bench::isChild(one)) { // one side of one measurement: MEASUREMENT ours|peer
        if (one.size() != 2)
            return 2;
        const bool ours = one.at(1) == QLatin1String("ours");
        QJsonObject result;
        if (one.at(0) == QLatin1String("await_ready"))
            result = awaitReadySide(ours);
        else if (one.at(0) == QLatin1String("await_thread_rtt"))
            result = awaitThreadRttSide(ours);
        else
            return 2;
        if (result.isEmpty())
            return 1;
        bench::printResult(result);
        return 0;
    }
    // Arguments pick figures (await_ready, await_thread_rtt, cancel_to_stopped); none: all.
    // The two with a peer run each side in its own child (bench/common/isolate.h).
    const QStringList args = app.arguments().mid(1);
    const auto want
        = [&](const char *name) { return args.isEmpty() || args.contains(QLatin1String(name)); };
    int oursFailed = 0;
    if (want("await_ready"))
        oursFailed += reportAwaitReady();
    if (want("await_thread_rtt"))
        oursFailed += reportAwaitThreadRtt();
    if (want("cancel_to_stopped"))
        cancelToStopped();
    return oursFailed > 0 ? 1 : 0;
}
