// Thread-task benchmarks against QtConcurrent, alternating in one process (BENCHMARKS.md):
// dispatch round trip, delivered throughput, and GUI ping latency under a progress load.
#include "../common/benchreport.h"

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

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int runs = 5;

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

void dispatchRtt(QObject *ctx)
{
    const auto ours = [ctx](int n) {
        return roundTrips(n, [ctx](auto done) {
            offload::run(ctx, [] { return 0; }).onResult([done](int) { done(); });
        });
    };
    const auto peer = [ctx](int n) {
        return roundTrips(n, [ctx](auto done) {
            QtConcurrent::run([] { return 0; }).then(ctx, [done](int) { done(); });
        });
    };
    ours(500);
    peer(500); // warm-up
    bench::Figure p50 { QStringLiteral("threads"), QStringLiteral("dispatch_rtt_p50"),
        QStringLiteral("us") };
    bench::Figure p99 { QStringLiteral("threads"), QStringLiteral("dispatch_rtt_p99"),
        QStringLiteral("us") };
    p50.peerName = p99.peerName = QStringLiteral("QtConcurrent::run+then(ctx)");
    for (int r = 0; r < runs; ++r) {
        auto o = ours(2000);
        auto p = peer(2000);
        p50.ours.push_back(bench::percentile(o, 0.5));
        p50.peer.push_back(bench::percentile(p, 0.5));
        p99.ours.push_back(bench::percentile(o, 0.99));
        p99.peer.push_back(bench::percentile(p, 0.99));
    }
    bench::report(p50);
    bench::report(p99);
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

void throughput(QObject *ctx)
{
    constexpr int n = 100'000;
    const auto ours = [ctx](int count) {
        return deliveredPerSecond(count, [ctx](int k, auto done) {
            for (int i = 0; i < k; ++i)
                offload::run(ctx, [i] { return i; }).onResult([done](int) mutable { done(); });
        });
    };
    const auto peer = [ctx](int count) {
        return deliveredPerSecond(count, [ctx](int k, auto done) {
            for (int i = 0; i < k; ++i)
                QtConcurrent::run([i] { return i; }).then(ctx, [done](int) mutable { done(); });
        });
    };
    ours(10'000);
    peer(10'000);
    bench::Figure f { QStringLiteral("threads"), QStringLiteral("throughput"),
        QStringLiteral("tasks/s") };
    f.peerName = QStringLiteral("QtConcurrent::run+then(ctx)");
    f.better = QStringLiteral("higher");
    for (int r = 0; r < runs; ++r) {
        f.ours.push_back(ours(n));
        f.peer.push_back(peer(n));
    }
    bench::report(f);
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

void guiPingUnderLoad()
{
    const int cores = QThread::idealThreadCount();
    const auto ours = [cores](std::chrono::milliseconds d) {
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
    const auto peer = [cores](std::chrono::milliseconds d) {
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
    const int loadRuns = qEnvironmentVariableIntValue("OFFLOAD_BENCH_QUICK") ? 2 : runs;
    const auto d = qEnvironmentVariableIntValue("OFFLOAD_BENCH_QUICK") ? 1000ms : 5000ms;
    for (int r = 0; r < loadRuns; ++r) {
        const auto o = ours(d);
        const auto p = peer(d);
        p99.ours.push_back(o.ping.p99us);
        p99.peer.push_back(p.ping.p99us);
        mx.ours.push_back(o.ping.maxus);
        mx.peer.push_back(p.ping.maxus);
        work.ours.push_back(o.slices);
        work.peer.push_back(p.slices);
        p50o.push_back(o.ping.p50us);
        p50p.push_back(p.ping.p50us);
    }
    p99.extra.insert(QStringLiteral("p50_ours_us"), bench::median(p50o));
    p99.extra.insert(QStringLiteral("p50_peer_us"), bench::median(p50p));
    p99.extra.insert(QStringLiteral("seconds_per_run"), double(d.count()) / 1000.0);
    bench::report(p99);
    bench::report(mx);
    bench::report(work);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    // Both pools get the same thread count so the comparison is like for like.
    QThreadPool::globalInstance()->setMaxThreadCount(
        offload::ThreadPool::globalInstance()->maxThreads());
    QObject ctx;
    const QStringList args = app.arguments().mid(1);
    const auto want
        = [&](const char *name) { return args.isEmpty() || args.contains(QLatin1String(name)); };
    if (want("rtt"))
        dispatchRtt(&ctx);
    if (want("throughput"))
        throughput(&ctx);
    if (want("load"))
        guiPingUnderLoad();
    return 0;
}
