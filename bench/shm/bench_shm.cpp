// Shared-memory benchmarks (docs/benchmarks.md), each side in a child process so that a crash
// is counted (bench/common/isolate.h), ours and the peer alternating:
//   handoff_us_{64b,4mib,256mib}  a buffer to a C++ worker that reads one byte per page and
//                                 hands it back, vs the same bytes inline as the call's payload;
//                                 untouched_us: the same hand-over with the buffer left unread
//   roundtrip_256mib_gibs         256 MiB, every page read and written by the worker, back:
//                                 vs inline, and vs a memcpy of 256 MiB in this process
//   python_roundtrip_256mib_gibs  the same with a Python worker (memoryview) vs inline
//   frames_per_s_4mib             a worker streaming 4 MiB frames to the GUI thread, which
//                                 keeps the latest, vs the same stream inline (stdio channel);
//                                 with the GUI's ping latency while it runs
//   frames_paced_*                the same at a camera's pace, 1000 frames a second
#include "../common/benchreport.h"
#include "../common/isolate.h"

#include <offload/monitor/latencyprobe.h>
#include <offload/process/sharedbuffer.h>
#include <offload/process/workerpool.h>

#include <QCoreApplication>
#include <QEventLoop>
#include <QThread>
#include <QTimer>

#include <chrono>
#include <cstring>
#include <vector>

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

constexpr qint64 MiB = 1 << 20;
constexpr qint64 big = 256 * MiB;
constexpr double GiB = double(1 << 30);
constexpr int pacedRate = 1000; // frames a second: a fast camera

bool quick()
{
    return qEnvironmentVariableIntValue("OFFLOAD_BENCH_QUICK") != 0;
}

double us(Clock::duration d)
{
    return std::chrono::duration<double, std::micro>(d).count();
}

offload::WorkerPoolSpec cppSpec(bool stdio = false)
{
    offload::WorkerPoolSpec s;
    s.program = QCoreApplication::applicationDirPath() + QStringLiteral("/shm_worker");
    s.maxWorkers = 1;
    s.prestart = 1;
    s.stdioChannel = stdio;
    s.maxPayloadBytes = 2 * big;
    return s;
}

offload::WorkerPoolSpec pySpec()
{
    offload::WorkerPoolSpec s;
    s.program = QStringLiteral("/usr/bin/python3");
    s.arguments = { OFFLOAD_SOURCE_DIR "/bench/shm/shm_worker.py" };
    s.environment.insert("OFFLOAD_PYTHON_SDK", OFFLOAD_SOURCE_DIR "/worker/python");
    s.maxWorkers = 1;
    s.prestart = 1;
    s.maxPayloadBytes = 2 * big;
    return s;
}

void waitReady(offload::WorkerPool &pool)
{
    const auto deadline = Clock::now() + 30s;
    while (pool.status().ready < 1 && Clock::now() < deadline)
        QThread::msleep(2);
}

// One call, submit to its result on this (the GUI) thread; -1 if it failed.
double timedCall(offload::WorkerPool &pool, QObject *ctx, offload::WorkerCall call)
{
    QEventLoop loop;
    double elapsed = -1;
    const auto t0 = Clock::now();
    auto task = pool.submit(ctx, std::move(call));
    task.onFinished([&](const auto &t) {
        if (t.state() == offload::TaskState::Finished)
            elapsed = us(Clock::now() - t0);
        loop.quit();
    });
    loop.exec();
    return elapsed;
}

// The worker's job done in this process: one byte read per page of a mapped, warm buffer.
double pageFloorUs(qint64 size)
{
    auto b = offload::SharedBuffer::create(size, offload::SharedBuffer::Fill::Prefault);
    std::vector<double> runs;
    volatile int64_t sink = 0;
    for (int r = 0; r < 9; ++r) {
        const auto t0 = Clock::now();
        int64_t sum = 0;
        for (qint64 i = 0; i < size; i += 4096)
            sum += int64_t(b.constData()[i]);
        sink = sink + sum;
        runs.push_back(us(Clock::now() - t0));
    }
    return bench::median(runs);
}

double memcpyGibs(qint64 size)
{
    auto from = offload::SharedBuffer::create(size, offload::SharedBuffer::Fill::Prefault);
    auto to = offload::SharedBuffer::create(size, offload::SharedBuffer::Fill::Prefault);
    std::memset(from.data(), 3, size_t(size));
    std::vector<double> runs;
    for (int r = 0; r < 5; ++r) {
        const auto t0 = Clock::now();
        std::memcpy(to.data(), from.constData(), size_t(size));
        runs.push_back(double(size) / GiB / (us(Clock::now() - t0) / 1e6));
    }
    return bench::median(runs);
}

// calls of "pages" with `size` bytes, as a pooled shared buffer (ours) or inline in the
// payload (peer); the median time in microseconds. touch false: the worker hands the buffer
// back without reading it (the hand-over alone).
double pagesCalls(
    offload::WorkerPool &pool, qint64 size, bool ours, bool write, int calls, bool touch = true)
{
    QObject ctx;
    // One buffer from a pool, sent again and again: its pages are faulted in once, here and in
    // the worker. (Acquiring per call would race the previous result's delivery, which holds
    // the buffer a moment after the callback, and sometimes make a new one.)
    offload::SharedBufferPool buffers(size, 1);
    const offload::SharedBuffer shared = ours ? buffers.acquire() : offload::SharedBuffer();
    if (ours && shared.isNull())
        qFatal("no shared buffer of %lld bytes", size);
    QByteArray payload(qsizetype(ours ? 0 : size), '\1');
    std::vector<double> times;
    // Warm-up calls first: two, or one where a call takes seconds (256 MiB inline).
    const int warm = size >= big && !ours ? 1 : 2;
    for (int i = -warm; i < calls; ++i) {
        offload::WorkerCall call { QStringLiteral("pages"),
            QJsonObject {
                { QStringLiteral("write"), write }, { QStringLiteral("touch"), touch } } };
        if (ours) {
            call.buffers.push_back(shared);
        } else {
            call.payload = payload;
        }
        const double t = timedCall(pool, &ctx, std::move(call));
        if (t < 0)
            qFatal("the pages call failed");
        if (i >= 0)
            times.push_back(t);
    }
    return bench::median(times);
}

int callsFor(qint64 size, bool ours)
{
    if (size >= big)
        return quick() ? 2 : (ours ? 15 : 3);
    if (size >= 4 * MiB)
        return quick() ? 20 : 60;
    return quick() ? 100 : 400;
}

QJsonObject childHandoff(qint64 size, bool ours)
{
    offload::WorkerPool pool(cppSpec());
    waitReady(pool);
    QJsonObject r { { QStringLiteral("us"),
        pagesCalls(pool, size, ours, false, callsFor(size, ours)) } };
    if (ours) {
        r.insert(QStringLiteral("floor_us"), pageFloorUs(size));
        r.insert(QStringLiteral("untouched_us"),
            pagesCalls(pool, size, true, false, callsFor(size, true), false));
    }
    return r;
}

QJsonObject childRoundtrip(bool python, bool ours)
{
    offload::WorkerPool pool(python ? pySpec() : cppSpec());
    waitReady(pool);
    const double t = pagesCalls(pool, big, ours, true, callsFor(big, ours));
    QJsonObject r { { QStringLiteral("gibs"), double(big) / GiB / (t / 1e6) },
        { QStringLiteral("us"), t } };
    if (ours && !python)
        r.insert(QStringLiteral("memcpy_gibs"), memcpyGibs(big));
    return r;
}

// A stream as fast as the buffers come back (rate 0), or at rate frames a second.
QJsonObject childFrames(bool ours, int rate)
{
    offload::WorkerPool pool(cppSpec(!ours)); // inline: the stdio channel carries the bytes
    waitReady(pool);
    const auto seconds = quick() ? 1s : 3s;
    // The same probe with no stream first: this machine's own floor at this moment.
    offload::LatencyProbe probe;
    probe.start();
    {
        QEventLoop idle;
        QTimer::singleShot(seconds / 3, &idle, [&] { idle.quit(); });
        idle.exec();
    }
    const auto idleStats = probe.stats();
    probe.stop();
    QObject ctx;
    quint64 delivered = 0, skipped = 0;
    offload::WorkerFrame latest;
    bool counting = false;
    auto task = pool.submit(&ctx,
        offload::WorkerCall { QStringLiteral("stream"),
            QJsonObject { { QStringLiteral("size"), 4 * MiB }, { QStringLiteral("rate"), rate } },
            {}, {}, [&](const offload::WorkerFrame &f) {
                latest = f; // kept until the next one, as a view would
                if (counting) {
                    ++delivered;
                    skipped += f.skipped;
                }
            } });
    QEventLoop loop;
    QTimer::singleShot(300, &loop, [&] {
        counting = true;
        probe.start();
    });
    QTimer::singleShot(300ms + seconds, &loop, [&] { loop.quit(); });
    loop.exec();
    counting = false;
    const auto s = probe.stats();
    probe.stop();
    task.cancel();
    task.waitForFinished(10s);
    const double secs = std::chrono::duration<double>(seconds).count();
    return { { QStringLiteral("fps"), double(delivered) / secs },
        { QStringLiteral("published_per_s"), double(delivered + skipped) / secs },
        { QStringLiteral("p99_us"), s.p99us }, { QStringLiteral("max_us"), s.maxus },
        { QStringLiteral("idle_p99_us"), idleStats.p99us } };
}

int child(const QStringList &args)
{
    const QString what = args.value(0);
    const bool ours = args.value(1) == QLatin1String("ours");
    QJsonObject r;
    if (what.startsWith(QLatin1String("handoff-")))
        r = childHandoff(what.mid(8).toLongLong(), ours);
    else if (what == QLatin1String("roundtrip"))
        r = childRoundtrip(false, ours);
    else if (what == QLatin1String("pyroundtrip"))
        r = childRoundtrip(true, ours);
    else if (what == QLatin1String("frames"))
        r = childFrames(ours, 0);
    else if (what == QLatin1String("paced"))
        r = childFrames(ours, pacedRate);
    else
        return 2;
    bench::printResult(r);
    return 0;
}

bench::Figure figure(const QString &name, const QString &unit, const QString &peer)
{
    bench::Figure f { QStringLiteral("shm"), name, unit };
    f.peerName = peer;
    return f;
}

void handoff()
{
    const QString inlinePeer = QStringLiteral("the same bytes inline, as the call's payload");
    std::vector<double> medians, untouchedMedians;
    for (const auto &[size, label] : { std::pair { qint64(64), "64b" },
             std::pair { 4 * MiB, "4mib" }, std::pair { big, "256mib" } }) {
        auto f = figure(QStringLiteral("handoff_us_%1").arg(QLatin1String(label)),
            QStringLiteral("us"), inlinePeer);
        std::vector<double> floors, untouched;
        for (const auto &[o, p] :
            bench::measureIsolated(QStringLiteral("handoff-%1").arg(size), { &f })) {
            f.ours.push_back(o.value(QStringLiteral("us")).toDouble());
            f.peer.push_back(p.value(QStringLiteral("us")).toDouble());
            floors.push_back(o.value(QStringLiteral("floor_us")).toDouble());
            untouched.push_back(o.value(QStringLiteral("untouched_us")).toDouble());
        }
        // The same calls with a worker that hands the buffer back unread: the hand-over alone.
        f.extra.insert(QStringLiteral("untouched_us"), bench::median(untouched));
        untouchedMedians.push_back(bench::median(untouched));
        // The worker's own job (a byte read per page), measured in this process: what no
        // hand-over can avoid.
        f.extra.insert(QStringLiteral("page_reads_floor_us"), bench::median(floors));
        f.extra.insert(QStringLiteral("bytes"), size);
        bench::report(f);
        medians.push_back(f.ours.empty() ? 0 : bench::median(f.ours));
    }
    bench::Figure ratio { QStringLiteral("shm"), QStringLiteral("handoff_256mib_over_64b"),
        QStringLiteral("x") };
    if (medians.size() == 3 && medians[0] > 0)
        ratio.ours.push_back(medians[2] / medians[0]);
    ratio.extra.insert(QStringLiteral("target_max"), 2.0);
    bench::report(ratio);
    bench::Figure alone { QStringLiteral("shm"),
        QStringLiteral("handoff_untouched_256mib_over_64b"), QStringLiteral("x") };
    if (untouchedMedians.size() == 3 && untouchedMedians[0] > 0)
        alone.ours.push_back(untouchedMedians[2] / untouchedMedians[0]);
    alone.extra.insert(QStringLiteral("target_max"), 2.0);
    bench::report(alone);
}

void roundtrip(bool python)
{
    const QString name = python ? QStringLiteral("python_roundtrip_256mib_gibs")
                                : QStringLiteral("roundtrip_256mib_gibs");
    auto f = figure(name, QStringLiteral("GiB/s"),
        QStringLiteral("the same bytes inline, as the call's payload"));
    f.better = QStringLiteral("higher");
    auto vsMemcpy = figure(QStringLiteral("roundtrip_256mib_vs_memcpy"), QStringLiteral("GiB/s"),
        QStringLiteral("memcpy of 256 MiB in this process, prefaulted"));
    vsMemcpy.better = QStringLiteral("higher");
    for (const auto &[o, p] :
        bench::measureIsolated(python ? QStringLiteral("pyroundtrip") : QStringLiteral("roundtrip"),
            { &f, &vsMemcpy })) {
        f.ours.push_back(o.value(QStringLiteral("gibs")).toDouble());
        f.peer.push_back(p.value(QStringLiteral("gibs")).toDouble());
        if (!python) {
            vsMemcpy.ours.push_back(o.value(QStringLiteral("gibs")).toDouble());
            vsMemcpy.peer.push_back(o.value(QStringLiteral("memcpy_gibs")).toDouble());
        }
    }
    f.extra.insert(QStringLiteral("target_ratio_min"), 5.0);
    bench::report(f);
    if (!python) {
        vsMemcpy.extra.insert(QStringLiteral("target_ratio_min"), 0.8);
        bench::report(vsMemcpy);
    }
}

// paced: the worker publishes pacedRate frames a second; else as fast as it can.
void frames(bool paced)
{
    const QString peer = QStringLiteral("the same stream inline (stdio channel)");
    const QString prefix = paced ? QStringLiteral("frames_paced_") : QStringLiteral("frames_");
    auto fps = figure(prefix + QStringLiteral("per_s_4mib"), QStringLiteral("frames/s"), peer);
    fps.better = QStringLiteral("higher");
    auto p99 = figure(prefix + QStringLiteral("gui_ping_p99_us"), QStringLiteral("us"), peer);
    auto mx = figure(prefix + QStringLiteral("gui_ping_max_us"), QStringLiteral("us"), peer);
    auto published
        = figure(prefix + QStringLiteral("published_per_s_4mib"), QStringLiteral("frames/s"), peer);
    published.better = QStringLiteral("higher");
    std::vector<double> idleP99;
    if (paced) {
        for (auto *f : { &fps, &p99, &mx, &published })
            f->extra.insert(QStringLiteral("rate_per_s"), pacedRate);
    }
    for (const auto &[o, p] :
        bench::measureIsolated(paced ? QStringLiteral("paced") : QStringLiteral("frames"),
            { &fps, &p99, &mx, &published })) {
        fps.ours.push_back(o.value(QStringLiteral("fps")).toDouble());
        fps.peer.push_back(p.value(QStringLiteral("fps")).toDouble());
        p99.ours.push_back(o.value(QStringLiteral("p99_us")).toDouble());
        p99.peer.push_back(p.value(QStringLiteral("p99_us")).toDouble());
        mx.ours.push_back(o.value(QStringLiteral("max_us")).toDouble());
        mx.peer.push_back(p.value(QStringLiteral("max_us")).toDouble());
        published.ours.push_back(o.value(QStringLiteral("published_per_s")).toDouble());
        published.peer.push_back(p.value(QStringLiteral("published_per_s")).toDouble());
        idleP99.push_back(o.value(QStringLiteral("idle_p99_us")).toDouble());
        idleP99.push_back(p.value(QStringLiteral("idle_p99_us")).toDouble());
    }
    // The GUI's ping p99 with no stream, just before each run: the machine's floor.
    p99.extra.insert(QStringLiteral("idle_p99_us"), bench::median(idleP99));
    fps.extra.insert(QStringLiteral("target_min"), 500.0);
    p99.extra.insert(QStringLiteral("target_max"), 100.0);
    bench::report(fps);
    bench::report(p99);
    bench::report(mx);
    bench::report(published);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QStringList args;
    if (bench::isChild(args))
        return child(args);
    args = app.arguments().mid(1);
    const auto want
        = [&](const char *name) { return args.isEmpty() || args.contains(QLatin1String(name)); };
    if (want("handoff"))
        handoff();
    if (want("roundtrip"))
        roundtrip(false);
    if (want("python"))
        roundtrip(true);
    if (want("frames"))
        frames(false);
    if (want("paced"))
        frames(true);
    return 0;
}
