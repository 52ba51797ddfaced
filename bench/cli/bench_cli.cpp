// bench_cli: foreign programs and SEM modules against their peers, in one run.
//   run_overhead         start → finished delivered, of /bin/true through ProgramRunner vs bare
//   QProcess sem_scan_throughput  SemTagScanner over 100 MB of mixed text and tags (MB/s, peak RSS
//   growth);
//                        peer: re-scanning the whole accumulated output after each chunk (Slicer's
//                        method) on 10 MB, compared on the same 10 MB
//   parallel_speedup     8 CPU-bound runs of the in-tree blur module: default queue vs one at a
//   time
#include "../common/benchreport.h"

#include <offload/modules/modulerunner.h>
#include <offload/process/semtagscanner.h>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QFile>
#include <QProcess>
#include <QThread>

#include <chrono>
#include <string>

using namespace offload;

namespace {

QString binPath(const char *name)
{
    return QCoreApplication::applicationDirPath() + QLatin1Char('/') + QLatin1String(name);
}

double runOursUs(ProgramRunner &runner, QObject *ctx)
{
    QEventLoop loop;
    ProgramSpec spec;
    spec.program = QStringLiteral("/bin/true");
    spec.progress = ProgressFormat::None;
    QElapsedTimer t;
    t.start();
    auto run = runner.run(ctx, spec);
    run.onFinished([&loop](const auto &) { loop.quit(); });
    loop.exec();
    return double(t.nsecsElapsed()) / 1000.0;
}

double runPeerUs()
{
    QEventLoop loop;
    QProcess p;
    QObject::connect(&p, &QProcess::finished, &loop, &QEventLoop::quit);
    QElapsedTimer t;
    t.start();
    p.start(QStringLiteral("/bin/true"), {});
    loop.exec();
    return double(t.nsecsElapsed()) / 1000.0;
}

void runOverhead()
{
    bench::Figure f { QStringLiteral("cli"), QStringLiteral("run_overhead"), QStringLiteral("us") };
    f.peerName = QStringLiteral("QProcess start→finished");
    ProgramRunner runner;
    QObject ctx;
    for (int i = 0; i < 20; ++i) { // warm-up: supervisor thread, page cache
        runOursUs(runner, &ctx);
        runPeerUs();
    }
    for (int round = 0; round < 5; ++round) {
        std::vector<double> ours, peer;
        for (int i = 0; i < 100; ++i) { // alternating, so both see the same machine
            ours.push_back(runOursUs(runner, &ctx));
            peer.push_back(runPeerUs());
        }
        f.ours.push_back(bench::median(ours));
        f.peer.push_back(bench::median(peer));
    }
    f.extra.insert(QStringLiteral("program"), QStringLiteral("/bin/true"));
    f.extra.insert(QStringLiteral("target_ratio_max"), 1.2);
    bench::report(f);
}

// 1 MiB of what a chatty module prints: log lines, progress tags, comments, a stage.
QByteArray mixedBlock()
{
    QByteArray block;
    int i = 0;
    while (block.size() < (1 << 20)) {
        block += "processing slice " + QByteArray::number(i)
            + " of 100000: intensity mean 0.4512, sd 0.1134\n";
        if (i % 8 == 0)
            block += "<filter-progress>" + QByteArray::number((i % 1000) / 1000.0)
                + "</filter-progress>\n";
        if (i % 64 == 0)
            block += "<filter-comment> \"slice " + QByteArray::number(i) + "\" </filter-comment>\n";
        if (i % 512 == 0)
            block += "<filter-start><filter-name>Stage</filter-name></filter-start>\n";
        ++i;
    }
    return block;
}

qint64 statusKiB(const char *field)
{
    QFile f(QStringLiteral("/proc/self/status"));
    if (!f.open(QIODevice::ReadOnly))
        return -1;
    for (const QByteArray &line : f.readAll().split('\n'))
        if (line.startsWith(field))
            return line.mid(qsizetype(std::strlen(field)))
                .trimmed()
                .split(' ')
                .first()
                .toLongLong();
    return -1;
}

// Ours: feeds `megabytes` of the block in 64 KiB chunks (what one pipe read returns).
double scanOurs(const QByteArray &block, int megabytes, qint64 *textBytes = nullptr)
{
    qint64 text = 0;
    SemTagScanner scanner([&text](const QByteArray &t) { text += t.size(); });
    const qsizetype chunk = 64 * 1024;
    QElapsedTimer t;
    t.start();
    for (int mb = 0; mb < megabytes; ++mb)
        for (qsizetype off = 0; off < block.size(); off += chunk)
            scanner.feed(block.constData() + off, std::min(chunk, block.size() - off));
    scanner.finish();
    const double seconds = double(t.nsecsElapsed()) / 1e9;
    if (textBytes)
        *textBytes = text;
    if (!scanner.progress().progress)
        std::fprintf(stderr, "scanner saw no progress\n");
    return double(megabytes) * double(block.size()) / (1 << 20) / seconds;
}

// The peer: keep everything, and after each chunk scan all of it again for the last
// <filter-progress> value (and the other tags), as Slicer's CLI logic does with its buffer.
double scanRescan(const QByteArray &block, int megabytes)
{
    std::string all;
    double last = -1;
    const size_t chunk = 64 * 1024;
    QElapsedTimer t;
    t.start();
    for (int mb = 0; mb < megabytes; ++mb) {
        for (qsizetype off = 0; off < block.size(); off += qsizetype(chunk)) {
            all.append(
                block.constData() + off, std::min<size_t>(chunk, size_t(block.size() - off)));
            for (const char *tag : { "<filter-progress>", "<filter-comment>", "<filter-name>" }) {
                size_t pos = 0, found = std::string::npos;
                while ((pos = all.find(tag, pos)) != std::string::npos)
                    found = pos++;
                if (found != std::string::npos && tag[8] == 'p')
                    last = std::atof(all.c_str() + found + 17);
            }
        }
    }
    const double seconds = double(t.nsecsElapsed()) / 1e9;
    if (last < 0)
        std::fprintf(stderr, "rescan saw no progress\n");
    return double(megabytes) * double(block.size()) / (1 << 20) / seconds;
}

void semScanThroughput()
{
    const QByteArray block = mixedBlock();
    bench::Figure f { QStringLiteral("cli"), QStringLiteral("sem_scan_throughput"),
        QStringLiteral("MB/s") };
    f.better = QStringLiteral("higher");
    f.peerName = QStringLiteral("rescan accumulated output per chunk (Slicer), 10 MB");
    for (int round = 0; round < 3; ++round) {
        f.ours.push_back(scanOurs(block, 10));
        f.peer.push_back(scanRescan(block, 10));
    }
    // The 100 MB figure with its memory growth: peak RSS reset, then measured against the start.
    QFile clear(QStringLiteral("/proc/self/clear_refs"));
    const bool reset = clear.open(QIODevice::WriteOnly) && clear.write("5") == 1;
    clear.close();
    const qint64 before = statusKiB("VmRSS:");
    qint64 text = 0;
    std::vector<double> big;
    for (int round = 0; round < 3; ++round)
        big.push_back(scanOurs(block, 100, &text));
    const qint64 peak = statusKiB("VmHWM:");
    f.extra.insert(QStringLiteral("ours_100mb_mbps"), bench::median(big));
    f.extra.insert(QStringLiteral("ours_100mb_runs"), QJsonArray { big[0], big[1], big[2] });
    f.extra.insert(
        QStringLiteral("peak_rss_growth_kib"), reset ? QJsonValue(peak - before) : QJsonValue());
    f.extra.insert(QStringLiteral("text_bytes_kept_per_100mb"), text);
    f.extra.insert(QStringLiteral("target_mbps_min"), 200);
    f.extra.insert(QStringLiteral("target_growth_kib_max"), 10 * 1024);
    std::fprintf(stderr, "cli sem_scan_throughput: 100 MB at %.0f MB/s, peak RSS growth %lld KiB\n",
        bench::median(big), static_cast<long long>(peak - before));
    bench::report(f);
}

double modulesWallSeconds(ModuleRunner &runner, const Module &m, int runs, int iterations)
{
    QObject ctx;
    QEventLoop loop;
    int left = runs;
    bool ok = true;
    QElapsedTimer t;
    t.start();
    for (int i = 0; i < runs; ++i) {
        auto run = runner.run(
            &ctx, m, { { "iterations", iterations }, { "summary", QStringLiteral("/dev/null") } });
        run.onFinished([&](const TaskHandle<ProgramResult> &h) {
            ok &= h.state() == TaskState::Finished;
            if (--left == 0)
                loop.quit();
        });
    }
    loop.exec();
    if (!ok)
        std::fprintf(stderr, "a module run failed\n");
    return double(t.nsecsElapsed()) / 1e9;
}

void parallelSpeedup()
{
    ModuleRunner parallel, serial(1);
    QObject ctx;
    QEventLoop loop;
    std::optional<Module> module;
    auto d = parallel.describe(&ctx, binPath("offload-example-blur"));
    d.onFinished([&](const TaskHandle<Module> &h) {
        if (h.state() == TaskState::Finished)
            module = h.result();
        loop.quit();
    });
    loop.exec();
    if (!module) {
        std::fprintf(
            stderr, "cannot describe the blur module: %s\n", qPrintable(d.error().summary()));
        return;
    }
    const int iterations = 1500;
    bench::Figure f { QStringLiteral("cli"), QStringLiteral("parallel_speedup"),
        QStringLiteral("x") };
    f.better = QStringLiteral("higher");
    f.peerName = QStringLiteral("the same 8 runs one at a time");
    std::vector<double> wallParallel, wallSerial;
    for (int round = 0; round < 3; ++round) {
        const double p = modulesWallSeconds(parallel, *module, 8, iterations);
        const double s = modulesWallSeconds(serial, *module, 8, iterations);
        wallParallel.push_back(p);
        wallSerial.push_back(s);
        f.ours.push_back(s / p); // speedup of the default queue
        f.peer.push_back(1.0); // one at a time is speedup 1 by definition
    }
    f.extra.insert(QStringLiteral("wall_parallel_s"), bench::median(wallParallel));
    f.extra.insert(QStringLiteral("wall_serial_s"), bench::median(wallSerial));
    f.extra.insert(QStringLiteral("queue_parallel"), parallel.maxParallel());
    f.extra.insert(QStringLiteral("cores"), QThread::idealThreadCount());
    f.extra.insert(QStringLiteral("target_ratio_min"), 1.8);
    bench::report(f);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    runOverhead();
    semScanThroughput();
    parallelSpeedup();
    return 0;
}
