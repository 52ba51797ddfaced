// Thread-task benchmarks against QtConcurrent: dispatch round trip, delivered throughput and
// GUI ping latency under a progress load; and the dispatch round trip with the pool at its
// nice +10 against nice 0, idle and loaded. Every run of every side is a child process of this
// executable, alternating who goes first, so that a side that crashes is counted (Qt 6.4's
// QtConcurrent::run(...).then(context, ...) does, now and then) and the rest still measured.
#include "../common/benchreport.h"
#include "../common/hogs.h"
#include "../common/isolate.h"

#include <offload/core/threadpool.h>
#include <offload/monitor/latencyprobe.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFutureWatcher>
#include <QPromise>
#include <QThreadPool>
#include <QTimer>
#include <QtConcurrent>

#include <atomic>
#include <chrono>
#include <cmath>
#include <optional>

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

double us(Clock::duration d)
{
    return std::chrono::duration<double, std::micro>(d).count();
}

// Round trips, each started from the GUI thread once the previous result was delivered.
template<typename Submit> std::vector<double> roundTrips(int count, Submit submit)
{
    std::vector<double> samples;
    samples.reserve(size_t(count));
    QEventLoop loop;
    std::function<void()> next = [&] {
        if (int(samples.size()) == count) {
            loop.quit();
            return;
        }
        const auto t0 = Clock::now();
        submit([&, t0] {
            samples.push_back(us(Clock::now() - t0));
            next();
        });
    };
    QTimer::singleShot(0, &loop, next);
    loop.exec();
    return samples;
}

// One side's round trips (after a warm-up): p50 and p99.
QJsonObject dispatchRtt(QObject *ctx, bool ours)
{
    const auto measure = [ctx, ours](int n) {
        if (ours)
            return roundTrips(n, [ctx](auto done) {
                offload::run(ctx, [] { return 0; }).onResult([done](int) { done(); });
            });
        return roundTrips(n, [ctx](auto done) {
            QtConcurrent::run([] { return 0; }).then(ctx, [done](int) { done(); });
        });
    };
    measure(500);
    const auto samples = measure(2000);
    return { { QStringLiteral("p50"), bench::percentile(samples, 0.5) },
        { QStringLiteral("p99"), bench::percentile(samples, 0.99) } };
}

// The dispatch round trip through a pool at nice +10 (ours, the default) or at nice 0 (peer),
// on an idle machine or with a nice-0 CPU hog on every CPU: does the pool's niceness make a
// round trip the GUI waits on slower?
QJsonObject nicenessRtt(QObject *ctx, bool ours, bool loaded)
{
    offload::ThreadPool pool({ .niceness = ours ? 10 : 0 });
    const auto measure = [&](int n) {
        return roundTrips(n,
            [&](auto done) { pool.run(ctx, [] { return 0; }).onResult([done](int) { done(); }); });
    };
    measure(500);
    std::optional<bench::Hogs> hogs;
    if (loaded)
        hogs.emplace(bench::allowedCpuCount());
    const auto samples = measure(loaded ? 1000 : 2000);
    return { { QStringLiteral("p50"), bench::percentile(samples, 0.5) },
        { QStringLiteral("p99"), bench::percentile(samples, 0.99) } };
}

// Submits n tiny tasks at once; tasks per second counted when delivered to the GUI context.
template<typename SubmitAll> double deliveredPerSecond(int n, SubmitAll submitAll)
{
    QEventLoop loop;
    int delivered = 0;
    const auto onDelivered = [&] {
        if (++delivered == n)
            loop.quit();
    };
    const auto t0 = Clock::now();
    submitAll(n, onDelivered);
    if (delivered < n)
        loop.exec();
    return n / std::chrono::duration<double>(Clock::now() - t0).count();
}

// One side's delivered tasks per second (after a warm-up).
QJsonObject throughput(QObject *ctx, bool ours)
{
    const auto measure = [ctx, ours](int count) {
        if (ours)
            return deliveredPerSecond(count, [ctx](int k, auto done) {
                for (int i = 0; i < k; ++i)
                    offload::run(ctx, [i] { return i; }).onResult([done](int) mutable { done(); });
            });
        return deliveredPerSecond(count, [ctx](int k, auto done) {
            for (int i = 0; i < k; ++i)
                QtConcurrent::run([i] { return i; }).then(ctx, [done](int) mutable { done(); });
        });
    };
    measure(10'000);
    return { { QStringLiteral("perSecond"), measure(100'000) } };
}

// The same through QFuture::then(context, ...) on both sides: ours via TaskHandle::toFuture().
// Qt 6.4's then(context) crashes now and then when the future completes on a pool thread
// while the continuation is attached; the crashes per side are the figure to read here.
QJsonObject futureThenThroughput(QObject *ctx, bool ours)
{
    const auto measure = [ctx, ours](int count) {
        if (ours)
            return deliveredPerSecond(count, [ctx](int k, auto done) {
                for (int i = 0; i < k; ++i)
                    offload::run(ctx, [i] { return i; }).toFuture().then(ctx, [done](int) mutable {
                        done();
                    });
            });
        return deliveredPerSecond(count, [ctx](int k, auto done) {
            for (int i = 0; i < k; ++i)
                QtConcurrent::run([i] { return i; }).then(ctx, [done](int) mutable { done(); });
        });
    };
    measure(10'000);
    return { { QStringLiteral("perSecond"), measure(100'000) } };
}

// CPU-bound work in ~1 ms slices (about 1000 progress reports per second per task).
double burnSlice()
{
    volatile double acc = 0;
    const auto end = Clock::now() + 1ms;
    while (Clock::now() < end) {
        for (int i = 0; i < 200; ++i)
            acc = acc + std::sqrt(double(i) + acc);
    }
    return acc;
}

struct LoadResult
{
    offload::LatencyProbe::Stats ping;
    double slices = 0; // background work done, in 1 ms slices
};

template<typename StartLoad>
LoadResult pingUnderLoad(std::chrono::milliseconds duration, StartLoad startLoad)
{
    std::atomic<bool> stop { false };
    std::atomic<qint64> slices { 0 };
    QObject ctx;
    auto finishLoad = startLoad(&ctx, stop, slices);
    offload::LatencyProbe probe;
    QEventLoop loop;
    QTimer::singleShot(200, &loop, [&] {
        probe.start();
        slices = 0;
    }); // let the load settle
    QTimer::singleShot(200 + int(duration.count()), &loop, [&] { loop.quit(); });
    loop.exec();
    const auto stats = probe.stats();
    const double done = double(slices.load());
    probe.stop();
    stop = true;
    finishLoad();
    return { stats, done };
}

// One side: the GUI ping while every core runs a task reporting progress 1000 times a second.
QJsonObject guiPingUnderLoad(bool ours)
{
    const int cores = QThread::idealThreadCount();
    const auto oursLoad = [cores](std::chrono::milliseconds d) {
        return pingUnderLoad(
            d, [cores](QObject *ctx, std::atomic<bool> &stop, std::atomic<qint64> &slices) {
                std::vector<offload::TaskHandle<void>> tasks;
                auto progress = std::make_shared<qint64>(0);
                for (int i = 0; i < cores; ++i) {
                    tasks.push_back(offload::run(ctx, [&stop, &slices](offload::TaskControl &c) {
                        qint64 n = 0;
                        c.setProgressRange(0, 1'000'000);
                        while (!stop) {
                            burnSlice();
                            ++slices;
                            c.setProgress(++n % 1'000'000);
                        }
                    }));
                    tasks.back().onProgress(
                        [progress](const offload::Progress &p) { *progress = p.value; });
                }
                return [tasks] {
                    for (auto &t : tasks)
                        t.waitForFinished(10s);
                };
            });
    };
    const auto peerLoad = [cores](std::chrono::milliseconds d) {
        return pingUnderLoad(
            d, [cores](QObject *ctx, std::atomic<bool> &stop, std::atomic<qint64> &slices) {
                auto watchers
                    = std::make_shared<std::vector<std::unique_ptr<QFutureWatcher<void>>>>();
                auto progress = std::make_shared<int>(0);
                for (int i = 0; i < cores; ++i) {
                    auto w = std::make_unique<QFutureWatcher<void>>();
                    QObject::connect(w.get(), &QFutureWatcherBase::progressValueChanged, ctx,
                        [progress](int v) { *progress = v; });
                    w->setFuture(QtConcurrent::run([&stop, &slices](QPromise<void> &p) {
                        int n = 0;
                        p.setProgressRange(0, 1'000'000);
                        while (!stop) {
                            burnSlice();
                            ++slices;
                            p.setProgressValue(++n % 1'000'000);
                        }
                    }));
                    watchers->push_back(std::move(w));
                }
                return [watchers] {
                    for (auto &w : *watchers)
                        w->waitForFinished();
                };
            });
    };
    const auto d = qEnvironmentVariableIntValue("OFFLOAD_BENCH_QUICK") ? 1000ms : 5000ms;
    const LoadResult r = ours ? oursLoad(d) : peerLoad(d);
    return { { QStringLiteral("p50"), r.ping.p50us }, { QStringLiteral("p99"), r.ping.p99us },
        { QStringLiteral("max"), r.ping.maxus }, { QStringLiteral("slices"), r.slices },
        { QStringLiteral("seconds"), double(d.count()) / 1000.0 } };
}

// The p50 and p99 figures of one isolated round-trip measurement against the named peer.
int reportRoundTrips(
    const QString &measurement, const QString &name, const QString &suffix, const QString &peer)
{
    bench::Figure p50 { QStringLiteral("threads"), name + QStringLiteral("_p50") + suffix,
        QStringLiteral("us") };
    bench::Figure p99 { QStringLiteral("threads"), name + QStringLiteral("_p99") + suffix,
        QStringLiteral("us") };
    p50.peerName = p99.peerName = peer;
    for (const auto &[o, p] : bench::measureIsolated(measurement, { &p50, &p99 })) {
        p50.ours.push_back(o.value(QLatin1String("p50")).toDouble());
        p50.peer.push_back(p.value(QLatin1String("p50")).toDouble());
        p99.ours.push_back(o.value(QLatin1String("p99")).toDouble());
        p99.peer.push_back(p.value(QLatin1String("p99")).toDouble());
    }
    bench::report(p50);
    bench::report(p99);
    return p50.oursFailures;
}

int reportRtt()
{
    return reportRoundTrips(QStringLiteral("rtt"), QStringLiteral("dispatch_rtt"), QString(),
        QStringLiteral("QtConcurrent::run+then(ctx)"));
}

int reportNiceness(bool loaded)
{
    if (loaded)
        return reportRoundTrips(QStringLiteral("rtt_nice_loaded"), QStringLiteral("dispatch_rtt"),
            QStringLiteral("_nice10_loaded"),
            QStringLiteral("the same pool at nice 0; a nice-0 hog per CPU"));
    return reportRoundTrips(QStringLiteral("rtt_nice"), QStringLiteral("dispatch_rtt"),
        QStringLiteral("_nice10"), QStringLiteral("the same pool at nice 0"));
}

int reportThroughput()
{
    bench::Figure f { QStringLiteral("threads"), QStringLiteral("throughput"),
        QStringLiteral("tasks/s") };
    f.peerName = QStringLiteral("QtConcurrent::run+then(ctx)");
    f.better = QStringLiteral("higher");
    for (const auto &[o, p] : bench::measureIsolated(QStringLiteral("throughput"), { &f })) {
        f.ours.push_back(o.value(QLatin1String("perSecond")).toDouble());
        f.peer.push_back(p.value(QLatin1String("perSecond")).toDouble());
    }
    bench::report(f);
    return f.oursFailures;
}

// Not a target: ours failing here is Qt's crash, reported, not a failure of the suite.
void reportFutureThen()
{
    bench::Figure f { QStringLiteral("threads"), QStringLiteral("throughput_future_then"),
        QStringLiteral("tasks/s") };
    f.peerName = QStringLiteral("QtConcurrent::run+then(ctx)");
    f.better = QStringLiteral("higher");
    for (const auto &[o, p] : bench::measureIsolated(QStringLiteral("future_then"), { &f })) {
        f.ours.push_back(o.value(QLatin1String("perSecond")).toDouble());
        f.peer.push_back(p.value(QLatin1String("perSecond")).toDouble());
    }
    f.extra.insert(QStringLiteral("ours_path"), QStringLiteral("TaskHandle::toFuture().then(ctx)"));
    bench::report(f);
}

int reportLoad()
{
    bench::Figure p99 { QStringLiteral("threads"), QStringLiteral("gui_ping_p99_under_load"),
        QStringLiteral("us") };
    bench::Figure mx { QStringLiteral("threads"), QStringLiteral("gui_ping_max_under_load"),
        QStringLiteral("us") };
    bench::Figure work { QStringLiteral("threads"), QStringLiteral("work_done_ratio"),
        QStringLiteral("slices") };
    p99.peerName = mx.peerName = work.peerName
        = QStringLiteral("QtConcurrent+QPromise+QFutureWatcher");
    work.better = QStringLiteral("higher");
    std::vector<double> p50o, p50p;
    double seconds = 0;
    for (const auto &[o, p] :
        bench::measureIsolated(QStringLiteral("load"), { &p99, &mx, &work })) {
        p99.ours.push_back(o.value(QLatin1String("p99")).toDouble());
        p99.peer.push_back(p.value(QLatin1String("p99")).toDouble());
        mx.ours.push_back(o.value(QLatin1String("max")).toDouble());
        mx.peer.push_back(p.value(QLatin1String("max")).toDouble());
        work.ours.push_back(o.value(QLatin1String("slices")).toDouble());
        work.peer.push_back(p.value(QLatin1String("slices")).toDouble());
        p50o.push_back(o.value(QLatin1String("p50")).toDouble());
        p50p.push_back(p.value(QLatin1String("p50")).toDouble());
        seconds = o.value(QLatin1String("seconds")).toDouble();
    }
    p99.extra.insert(QStringLiteral("p50_ours_us"), bench::median(p50o));
    p99.extra.insert(QStringLiteral("p50_peer_us"), bench::median(p50p));
    p99.extra.insert(QStringLiteral("seconds_per_run"), seconds);
    bench::report(p99);
    bench::report(mx);
    bench::report(work);
    return p99.oursFailures;
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    // Both pools get the same thread count so the comparison is like for like.
    QThreadPool::globalInstance()->setMaxThreadCount(
        offload::ThreadPool::globalInstance()->maxThreads());
    QStringList one;
    if (bench::isChild(one)) { // one side of one measurement: MEASUREMENT ours|peer
        if (one.size() != 2)
            return 2;
        QObject ctx;
        const bool ours = one.at(1) == QLatin1String("ours");
        if (one.at(0) == QLatin1String("rtt"))
            bench::printResult(dispatchRtt(&ctx, ours));
        else if (one.at(0) == QLatin1String("rtt_nice"))
            bench::printResult(nicenessRtt(&ctx, ours, false));
        else if (one.at(0) == QLatin1String("rtt_nice_loaded"))
            bench::printResult(nicenessRtt(&ctx, ours, true));
        else if (one.at(0) == QLatin1String("throughput"))
            bench::printResult(throughput(&ctx, ours));
        else if (one.at(0) == QLatin1String("future_then"))
            bench::printResult(futureThenThroughput(&ctx, ours));
        else if (one.at(0) == QLatin1String("load"))
            bench::printResult(guiPingUnderLoad(ours));
        else
            return 2;
        return 0;
    }
    const QStringList args = app.arguments().mid(1);
    const auto want
        = [&](const char *name) { return args.isEmpty() || args.contains(QLatin1String(name)); };
    // A peer that crashed is a figure; ours failing fails the suite.
    int oursFailed = 0;
    if (want("rtt"))
        oursFailed += reportRtt();
    if (want("nice")) {
        oursFailed += reportNiceness(false);
        oursFailed += reportNiceness(true);
    }
    if (want("throughput"))
        oursFailed += reportThroughput();
    if (want("load"))
        oursFailed += reportLoad();
    if (want("future_then"))
        reportFutureThen();
    return oursFailed > 0 ? 1 : 0;
}
