// Worker-process benchmarks (docs/benchmarks.md), ours and the peer alternating in one run:
// call round trip vs a raw pipe ping-pong, the same at nice +10 vs nice 0, call throughput (C++ and
// Python workers) vs Python's ProcessPoolExecutor, worker start-up vs QProcess running /bin/true,
// and GUI ping latency while workers saturate both cores streaming progress.
#include "../common/benchreport.h"
#include "../common/hogs.h"
#include "../common/isolate.h"

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
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sched.h>
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

// The CPUs this process may run on.
std::vector<int> allowedCpus()
{
    cpu_set_t set;
    CPU_ZERO(&set);
    std::vector<int> cpus;
    if (::sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; ++c) {
            if (CPU_ISSET(c, &set))
                cpus.push_back(c);
        }
    }
    return cpus;
}

bool pinTo(pid_t pid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    return ::sched_setaffinity(pid, sizeof set, &set) == 0;
}

// The physical floor: one byte to a child process over a pipe and back, blocking. Hot: the
// bench thread and the child pinned to one CPU, so each hand-off is a switch on a busy core.
// Cold: pinned to two CPUs, so each hand-off wakes the other CPU from idle.
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
    // Pins this thread and the child as asked, measures, and gives both back the CPUs this
    // thread had (so that run() afterwards is placed by the kernel again). Empty when pinning
    // is refused.
    std::vector<double> pinned(int count, int ourCpu, int childCpu)
    {
        cpu_set_t before;
        if (::sched_getaffinity(0, sizeof before, &before) != 0)
            return {};
        std::vector<double> samples;
        if (pinTo(0, ourCpu) && pinTo(pid, childCpu))
            samples = run(count);
        ::sched_setaffinity(0, sizeof before, &before);
        ::sched_setaffinity(pid, sizeof before, &before);
        return samples;
    }
};

// The floor of a worker call's shape: the caller hands each byte to a relay thread (as the GUI
// hands a call to the supervisor), the relay sends it to the child and hands the echo back, all
// with blocking pipes and no other work: four hand-offs, where PingPong has two. With
// callerWrites, the caller writes to the child itself and the relay, always waiting on the
// child's pipe (as the supervisor waits on every worker's channel), only hands the echo back:
// three hand-offs, the best a call written by its submitting thread could do. Placement is left
// to the kernel, as it is for the GUI and supervisor threads.
struct RelayedPingPong
{
    PingPong child;
    const bool callerWrites;
    int toRelay[2] = { -1, -1 }, fromRelay[2] = { -1, -1 };
    std::thread relay;
    explicit RelayedPingPong(bool callerWrites) : callerWrites(callerWrites)
    {
        if (::pipe2(toRelay, O_CLOEXEC) != 0 || ::pipe2(fromRelay, O_CLOEXEC) != 0)
            return;
        relay = std::thread([this] {
            char c;
            for (;;) { // one byte per round trip, until EOF
                if (!this->callerWrites
                    && (::read(toRelay[0], &c, 1) != 1 || ::write(child.toChild, &c, 1) != 1))
                    break;
                if (::read(child.fromChild, &c, 1) != 1 || ::write(fromRelay[1], &c, 1) != 1)
                    break;
            }
        });
    }
    ~RelayedPingPong()
    {
        // The relay sees EOF: on its own pipe, or (callerWrites) on the child's, which exits.
        ::close(std::exchange(callerWrites ? child.toChild : toRelay[1], -1));
        if (relay.joinable())
            relay.join();
        for (int fd : { toRelay[0], toRelay[1], fromRelay[0], fromRelay[1] })
            if (fd >= 0) // not twice: another thread may own that number by now
                ::close(fd);
    }
    std::vector<double> run(int count)
    {
        std::vector<double> samples;
        char c = 'x';
        const int to = callerWrites ? child.toChild : toRelay[1];
        for (int i = 0; i < count && relay.joinable(); ++i) {
            const auto t0 = Clock::now();
            if (::write(to, &c, 1) != 1 || ::read(fromRelay[0], &c, 1) != 1)
                break;
            samples.push_back(us(Clock::now() - t0));
        }
        return samples;
    }
};

// A round-trip figure of this suite, in microseconds, against the named peer.
bench::Figure figure(const char *name, const char *peer)
{
    bench::Figure f { QStringLiteral("process"), QString::fromLatin1(name), QStringLiteral("us") };
    f.peerName = QString::fromLatin1(peer);
    return f;
}

void callRtt(QObject *ctx)
{
    offload::WorkerPool pool(cppSpec(1, 1));
    waitReady(pool, 1);
    PingPong floor;
    RelayedPingPong relayed(false), direct(true);
    const std::vector<int> cpus = allowedCpus();
    const bool twoCpus = cpus.size() >= 2;
    callRtts(pool, ctx, 300);
    floor.run(300);
    relayed.run(300);
    direct.run(300);
    // The cold floor is the "every run" comparison; the hot floor is the best case.
    auto p50 = figure("call_rtt_p50", "cold floor: pipe ping-pong, two processes on two CPUs");
    auto p99 = figure("call_rtt_p99", "cold floor: pipe ping-pong, two processes on two CPUs");
    auto hot = figure("call_rtt_p50_vs_hot_floor", "hot floor: pipe ping-pong on one CPU");
    auto loose = figure("call_rtt_p50_vs_unpinned", "pipe ping-pong, placement left to the kernel");
    auto shaped = figure("call_rtt_p50_vs_relay_floor",
        "pipe ping-pong through a relay thread: four blocking hand-offs, as a call makes");
    auto direct3 = figure("call_rtt_p50_vs_direct_write_floor",
        "the same, the caller writing to the child itself: three hand-offs");
    p50.extra.insert(QStringLiteral("target_ratio_max"), 1.2);
    hot.extra.insert(QStringLiteral("target_ratio_max"), 3.0);
    const int n = quick() ? 500 : 2000;
    for (int r = 0; r < bench::rounds(); ++r) {
        std::vector<double> o, h, c, u, s, d;
        const auto floors = [&] {
            h = floor.pinned(n, cpus.front(), cpus.front());
            if (twoCpus)
                c = floor.pinned(n, cpus.at(0), cpus.at(1));
            u = floor.run(n);
            s = relayed.run(n);
            d = direct.run(n);
        };
        if (r % 2 == 1) // alternating who goes first
            floors();
        o = callRtts(pool, ctx, n);
        if (r % 2 == 0)
            floors();
        const double ours50 = bench::percentile(o, 0.5);
        if (!c.empty()) {
            p50.ours.push_back(ours50);
            p50.peer.push_back(bench::percentile(c, 0.5));
            p99.ours.push_back(bench::percentile(o, 0.99));
            p99.peer.push_back(bench::percentile(c, 0.99));
        }
        if (!h.empty()) {
            hot.ours.push_back(ours50);
            hot.peer.push_back(bench::percentile(h, 0.5));
        }
        loose.ours.push_back(ours50);
        loose.peer.push_back(bench::percentile(u, 0.5));
        shaped.ours.push_back(ours50);
        shaped.peer.push_back(bench::percentile(s, 0.5));
        direct3.ours.push_back(ours50);
        direct3.peer.push_back(bench::percentile(d, 0.5));
    }
    bench::report(p50);
    bench::report(p99);
    bench::report(hot);
    bench::report(loose);
    bench::report(shaped);
    bench::report(direct3);
}

// Workers start at nice +10 so that their computing never takes the GUI's CPU. Does that make
// a round trip the GUI waits on slower? The same pool at nice +10 and at nice 0, alternating,
// on an idle machine and with a nice-0 CPU hog on every CPU.
void callRttNiceness(QObject *ctx)
{
    auto niced = cppSpec(1, 1);
    niced.niceness = 10;
    auto plain = cppSpec(1, 1);
    plain.niceness = 0;
    offload::WorkerPool oursPool(niced), peerPool(plain);
    waitReady(oursPool, 1);
    waitReady(peerPool, 1);
    callRtts(oursPool, ctx, 300);
    callRtts(peerPool, ctx, 300);
    auto idle50 = figure("call_rtt_p50_nice10", "the same pool, workers at nice 0");
    auto idle99 = figure("call_rtt_p99_nice10", "the same pool, workers at nice 0");
    auto busy50 = figure(
        "call_rtt_p50_nice10_loaded", "the same pool, workers at nice 0; a nice-0 hog per CPU");
    auto busy99 = figure(
        "call_rtt_p99_nice10_loaded", "the same pool, workers at nice 0; a nice-0 hog per CPU");
    const int n = quick() ? 300 : 1000;
    const auto measure = [&](bench::Figure &p50, bench::Figure &p99, int r, int count) {
        std::vector<double> o, q;
        if (r % 2 == 1) // alternating who goes first
            q = callRtts(peerPool, ctx, count);
        o = callRtts(oursPool, ctx, count);
        if (r % 2 == 0)
            q = callRtts(peerPool, ctx, count);
        p50.ours.push_back(bench::percentile(o, 0.5));
        p50.peer.push_back(bench::percentile(q, 0.5));
        p99.ours.push_back(bench::percentile(o, 0.99));
        p99.peer.push_back(bench::percentile(q, 0.99));
    };
    for (int r = 0; r < bench::rounds(); ++r) {
        measure(idle50, idle99, r, n);
        bench::Hogs hogs(allowedCpus().size());
        measure(busy50, busy99, r, n / 2);
    }
    for (const auto *f : { &idle50, &idle99, &busy50, &busy99 })
        bench::report(*f);
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

// The peer runs in its own Python process; one that crashes, hangs or prints no figure
// counts as a failed run instead of a zero.
std::optional<double> peerThroughput(int calls)
{
    QProcess p;
    p.start(QStringLiteral("/usr/bin/python3"),
        { QStringLiteral(OFFLOAD_SOURCE_DIR "/bench/process/pool_peer.py"), QString::number(calls),
            QStringLiteral("2") });
    if (!p.waitForFinished(120000)) {
        p.kill();
        p.waitForFinished(5000);
        return std::nullopt;
    }
    if (p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0)
        return std::nullopt;
    const double perSecond = QJsonDocument::fromJson(p.readAllStandardOutput())
                                 .object()
                                 .value(QStringLiteral("calls_per_s"))
                                 .toDouble();
    if (perSecond <= 0)
        return std::nullopt;
    return perSecond;
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
    f.attempts = quick() ? 2 : runs;
    for (int r = 0; r < f.attempts; ++r) {
        const double ours = ourThroughput(pool, ctx, calls);
        if (const auto peer = peerThroughput(calls)) {
            f.ours.push_back(ours);
            f.peer.push_back(*peer);
        } else {
            ++f.peerFailures;
        }
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
    if (want("nice"))
        callRttNiceness(&ctx);
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
