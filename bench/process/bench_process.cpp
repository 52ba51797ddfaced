// Worker-process benchmarks (docs/benchmarks.md), ours and the peer alternating in one run:
// call round trip vs a raw pipe ping-pong, call throughput (C++ and Python workers) vs
// Python's ProcessPoolExecutor, worker start-up vs QProcess running /bin/true, and GUI ping
// latency while workers saturate both cores streaming progress.
#include "../common/benchreport.h"

#include <offload/monitor/latencyprobe.h>
#include <offload/process/workerpool.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>
#include <QThread>
#include <QTimer>

#include <chrono>
#include <functional>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr int runs = 5;
QString dir()
{
    return QCoreApplication::applicationDirPath();
}
double us(Clock::duration d)
{
    return std::chrono::duration<double, std::micro>(d).count();
}
bool quick()
{
    return qEnvironmentVariableIntValue("OFFLOAD_BENCH_QUICK") != 0;
}

offload::WorkerPoolSpec cppSpec(int workers, int pipeline)
{
    offload::WorkerPoolSpec s;
    s.program = dir() + QStringLiteral("/bench_worker");
    s.maxWorkers = workers;
    s.prestart = workers;
    s.environment.insert(QByteArrayLiteral("BENCH_PIPELINE"), QByteArray::number(pipeline));
    return s;
}

offload::WorkerPoolSpec pySpec(int workers, int pipeline)
{
    offload::WorkerPoolSpec s;
    s.program = QStringLiteral("/usr/bin/python3");
    s.arguments = { OFFLOAD_SOURCE_DIR "/bench/process/bench_worker.py" };
    s.environment.insert("OFFLOAD_PYTHON_SDK", OFFLOAD_SOURCE_DIR "/worker/python");
    s.environment.insert(QByteArrayLiteral("BENCH_PIPELINE"), QByteArray::number(pipeline));
    s.maxWorkers = workers;
    s.prestart = workers;
    return s;
}

void waitReady(offload::WorkerPool &pool, int n)
{
    const auto deadline = Clock::now() + 30s;
    while (pool.status().ready < n && Clock::now() < deadline)
        QThread::msleep(2);
}

std::vector<double> callRtts(offload::WorkerPool &pool, QObject *ctx, int count)
{
    std::vector<double> samples;
    QEventLoop loop;
    std::function<void()> next = [&] {
        if (int(samples.size()) == count)
            return loop.quit();
        const auto t0 = Clock::now();
        pool.submit(ctx, QStringLiteral("noop")).onFinished([&, t0](const auto &) {
            samples.push_back(us(Clock::now() - t0));
            next();
        });
    };
    QTimer::singleShot(0, &loop, next);
    loop.exec();
    return samples;
}

// The physical floor: one byte to a child process over a pipe and back, blocking.
struct PingPong
{
    pid_t pid = -1;
    int toChild = -1, fromChild = -1;
    PingPong()
    {
        int a[2], b[2];
        // Close-on-exec, or the child would hold its own stdin's write end and never see EOF.
        if (::pipe2(a, O_CLOEXEC) != 0 || ::pipe2(b, O_CLOEXEC) != 0)
            return;
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, a[0], 0);
        posix_spawn_file_actions_adddup2(&fa, b[1], 1);
        const QByteArray path = (dir() + QStringLiteral("/bench_pingpong")).toLocal8Bit();
        char *argv[] = { const_cast<char *>(path.constData()), nullptr };
        posix_spawn(&pid, path.constData(), &fa, nullptr, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        ::close(a[0]);
        ::close(b[1]);
        toChild = a[1];
        fromChild = b[0];
    }
    ~PingPong()
    {
        ::close(toChild);
        ::close(fromChild);
        ::waitpid(pid, nullptr, 0);
    }
    std::vector<double> run(int count)
    {
        std::vector<double> samples;
        char c = 'x';
        for (int i = 0; i < count; ++i) {
            const auto t0 = Clock::now();
            if (::write(toChild, &c, 1) != 1 || ::read(fromChild, &c, 1) != 1)
                break;
            samples.push_back(us(Clock::now() - t0));
        }
        return samples;
    }
};

void callRtt(QObject *ctx)
{
    offload::WorkerPool pool(cppSpec(1, 1));
    waitReady(pool, 1);
    PingPong floor;
    callRtts(pool, ctx, 300);
    floor.run(300);
    bench::Figure p50 { QStringLiteral("process"), QStringLiteral("call_rtt_p50"),
        QStringLiteral("us") };
    bench::Figure p99 { QStringLiteral("process"), QStringLiteral("call_rtt_p99"),
        QStringLiteral("us") };
    p50.peerName = p99.peerName = QStringLiteral("raw pipe ping-pong between two processes");
    for (int r = 0; r < runs; ++r) {
        const auto o = callRtts(pool, ctx, 2000);
        const auto p = floor.run(2000);
        p50.ours.push_back(bench::percentile(o, 0.5));
        p50.peer.push_back(bench::percentile(p, 0.5));
        p99.ours.push_back(bench::percentile(o, 0.99));
        p99.peer.push_back(bench::percentile(p, 0.99));
    }
    bench::report(p50);
    bench::report(p99);
}

double ourThroughput(offload::WorkerPool &pool, QObject *ctx, int calls)
{
    QEventLoop loop;
    int delivered = 0, failed = 0;
    const auto t0 = Clock::now();
    for (int i = 0; i < calls; ++i) {
        pool.submit(ctx, QStringLiteral("noop"))
            .onFinished([&](const offload::TaskHandle<offload::WorkerResult> &t) {
                failed += t.state() != offload::TaskState::Finished;
                if (++delivered == calls)
                    loop.quit();
            });
    }
    loop.exec();
    if (failed)
        qWarning("%d calls failed", failed);
    return calls / std::chrono::duration<double>(Clock::now() - t0).count();
}

double peerThroughput(int calls)
{
    QProcess p;
    p.start(QStringLiteral("/usr/bin/python3"),
        { QStringLiteral(OFFLOAD_SOURCE_DIR "/bench/process/pool_peer.py"), QString::number(calls),
            QStringLiteral("2") });
    p.waitForFinished(120000);
    return QJsonDocument::fromJson(p.readAllStandardOutput())
        .object()
        .value(QStringLiteral("calls_per_s"))
        .toDouble();
}

void callThroughput(QObject *ctx, bool python)
{
    const int calls = quick() ? 5000 : 50000; // both sides; enough to amortise ramp-up
    offload::WorkerPool pool(python ? pySpec(2, 64) : cppSpec(2, 64));
    waitReady(pool, 2);
    ourThroughput(pool, ctx, 2000); // warm-up
    bench::Figure f { QStringLiteral("process"),
        python ? QStringLiteral("call_throughput_python") : QStringLiteral("call_throughput_cpp"),
        QStringLiteral("calls/s") };
    f.peerName = QStringLiteral("Python concurrent.futures.ProcessPoolExecutor(2)");
    f.better = QStringLiteral("higher");
    f.extra.insert(QStringLiteral("calls_per_run"), calls);
    for (int r = 0; r < (quick() ? 2 : runs); ++r) {
        f.ours.push_back(ourThroughput(pool, ctx, calls));
        f.peer.push_back(peerThroughput(calls));
    }
    bench::report(f);
}

void workerReady()
{
    bench::Figure f { QStringLiteral("process"), QStringLiteral("worker_ready_ms"),
        QStringLiteral("ms") };
    f.peerName = QStringLiteral("QProcess start to finished of /bin/true");
    const int perRun = 10;
    for (int r = 0; r < runs; ++r) {
        std::vector<double> ours, peer;
        for (int i = 0; i < perRun; ++i) {
            {
                offload::WorkerPool pool(cppSpec(1, 1));
                waitReady(pool, 1);
                ours.push_back(pool.status().lastStartupMs);
            }
            QProcess p;
            const auto t0 = Clock::now();
            p.start(QStringLiteral("/bin/true"), {});
            p.waitForFinished(10000);
            peer.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        f.ours.push_back(bench::median(ours));
        f.peer.push_back(bench::median(peer));
    }
    bench::report(f);
}

void guiPingUnderLoad(QObject *ctx)
{
    bench::Figure p99 { QStringLiteral("process"), QStringLiteral("gui_ping_p99_under_load"),
        QStringLiteral("us") };
    bench::Figure mx { QStringLiteral("process"), QStringLiteral("gui_ping_max_under_load"),
        QStringLiteral("us") };
    bench::Figure rate { QStringLiteral("process"), QStringLiteral("progress_messages_per_s"),
        QStringLiteral("msg/s") };
    rate.better = QStringLiteral("higher");
    const auto seconds = quick() ? 1s : 5s;
    for (int r = 0; r < (quick() ? 1 : 3); ++r) {
        offload::WorkerPool pool(cppSpec(2, 1));
        waitReady(pool, 2);
        std::vector<offload::TaskHandle<offload::WorkerResult>> burns;
        for (int i = 0; i < 2; ++i)
            burns.push_back(pool.submit(ctx, QStringLiteral("burn")));
        offload::LatencyProbe probe;
        QEventLoop loop;
        qint64 before = 0;
        QTimer::singleShot(300, &loop, [&] {
            probe.start();
            for (auto &b : burns)
                before += b.progress().value;
        });
        QTimer::singleShot(
            300 + int(std::chrono::milliseconds(seconds).count()), &loop, [&] { loop.quit(); });
        loop.exec();
        const auto s = probe.stats();
        probe.stop();
        qint64 after = 0;
        for (auto &b : burns)
            after += b.progress().value;
        for (auto &b : burns)
            b.cancel();
        p99.ours.push_back(s.p99us);
        mx.ours.push_back(s.maxus);
        rate.ours.push_back(
            double(after - before) / std::chrono::duration<double>(seconds).count());
    }
    bench::report(p99);
    bench::report(mx);
    bench::report(rate);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QObject ctx;
    const QStringList args = app.arguments().mid(1);
    const auto want
        = [&](const char *name) { return args.isEmpty() || args.contains(QLatin1String(name)); };
    if (want("rtt"))
        callRtt(&ctx);
    if (want("throughput")) {
        callThroughput(&ctx, false);
        callThroughput(&ctx, true);
    }
    if (want("ready"))
        workerReady();
    if (want("load"))
        guiPingUnderLoad(&ctx);
    return 0;
}
