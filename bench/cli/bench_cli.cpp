// bench_cli: foreign programs and SEM modules against their peers, in one run. Every run of
// every side is a child process of this executable, alternating who goes first, so that a
// side that crashes is counted and the rest still measured.
//   run_overhead         start → finished delivered, of /bin/true through ProgramRunner vs bare
//                        QProcess
//   sem_scan_throughput  SemTagScanner over 10 MB of mixed text and tags (MB/s), and 100 MB
//                        with the peak RSS growth; peer: re-scanning the whole accumulated
//                        output after each chunk (Slicer's method) on the same 10 MB
//   parallel_speedup     8 CPU-bound runs of the in-tree blur module: default queue vs one at a
//                        time
#include "../common/benchreport.h"
#include "../common/isolate.h"

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

// One side: the median of 100 runs of /bin/true after a warm-up (supervisor thread, page
// cache). Each side alone: run back to back with the other, each slowed the other's runs
// (both ~0.5 ms slower) and the ratio looked better than either is.
QJsonObject overheadChild(bool ours)
{
    ProgramRunner runner;
    QObject ctx;
    const auto once = [&] { return ours ? runOursUs(runner, &ctx) : runPeerUs(); };
    for (int i = 0; i < 20; ++i)
        once();
    std::vector<double> samples;
    for (int i = 0; i < 100; ++i)
        samples.push_back(once());
    return { { QStringLiteral("us"), bench::median(samples) } };
}

int runOverhead()
{
    bench::Figure f { QStringLiteral("cli"), QStringLiteral("run_overhead"), QStringLiteral("us") };
    f.peerName = QStringLiteral("QProcess start→finished");
    for (const auto &[o, p] : bench::measureIsolated(QStringLiteral("overhead"), { &f })) {
        f.ours.push_back(o.value(QLatin1String("us")).toDouble());
        f.peer.push_back(p.value(QLatin1String("us")).toDouble());
    }
    f.extra.insert(QStringLiteral("program"), QStringLiteral("/bin/true"));
    f.extra.insert(QStringLiteral("target_ratio_max"), 1.2);
    bench::report(f);
    return f.oursFailures;
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

// One side: 10 MB (ours and the peer); ours also 100 MB, with the peak RSS growth it costs.
QJsonObject scanChild(bool ours)
{
    const QByteArray block = mixedBlock();
    if (!ours)
        return { { QStringLiteral("mbps"), scanRescan(block, 10) } };
    const double mbps = scanOurs(block, 10);
    // Peak RSS reset, then measured against the start.
    QFile clear(QStringLiteral("/proc/self/clear_refs"));
    const bool reset = clear.open(QIODevice::WriteOnly) && clear.write("5") == 1;
    clear.close();
    const qint64 before = statusKiB("VmRSS:");
    qint64 text = 0;
    const double big = scanOurs(block, 100, &text);
    const qint64 peak = statusKiB("VmHWM:");
    return { { QStringLiteral("mbps"), mbps }, { QStringLiteral("mbps100"), big },
        { QStringLiteral("growthKiB"), reset ? QJsonValue(peak - before) : QJsonValue() },
        { QStringLiteral("text"), text } };
}

int semScanThroughput()
{
    bench::Figure f { QStringLiteral("cli"), QStringLiteral("sem_scan_throughput"),
        QStringLiteral("MB/s") };
    f.better = QStringLiteral("higher");
    f.peerName = QStringLiteral("rescan accumulated output per chunk (Slicer), 10 MB");
    std::vector<double> big;
    QJsonArray growth;
    qint64 text = 0;
    for (const auto &[o, p] : bench::measureIsolated(QStringLiteral("scan"), { &f })) {
        f.ours.push_back(o.value(QLatin1String("mbps")).toDouble());
        f.peer.push_back(p.value(QLatin1String("mbps")).toDouble());
        big.push_back(o.value(QLatin1String("mbps100")).toDouble());
        growth.append(o.value(QLatin1String("growthKiB")));
        text = o.value(QLatin1String("text")).toInteger();
    }
    f.extra.insert(QStringLiteral("ours_100mb_mbps"), bench::median(big));
    f.extra.insert(QStringLiteral("ours_100mb_runs"), bench::toJson(big));
    f.extra.insert(QStringLiteral("peak_rss_growth_kib_runs"), growth);
    f.extra.insert(QStringLiteral("text_bytes_kept_per_100mb"), text);
    f.extra.insert(QStringLiteral("target_mbps_min"), 200);
    f.extra.insert(QStringLiteral("target_growth_kib_max"), 10 * 1024);
    std::fprintf(
        stderr, "cli sem_scan_throughput: 100 MB at %.0f MB/s (median)\n", bench::median(big));
    bench::report(f);
    return f.oursFailures;
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

// One side: the wall time of 8 runs through the default queue (ours) or one at a time.
QJsonObject speedupChild(bool ours)
{
    ModuleRunner runner(ours ? 0 : 1);
    QObject ctx;
    QEventLoop loop;
    std::optional<Module> module;
    auto d = runner.describe(&ctx, binPath("offload-example-blur"));
    d.onFinished([&](const TaskHandle<Module> &h) {
        if (h.state() == TaskState::Finished)
            module = h.result();
        loop.quit();
    });
    loop.exec();
    if (!module) {
        std::fprintf(
            stderr, "cannot describe the blur module: %s\n", qPrintable(d.error().summary()));
        std::exit(1);
    }
    return { { QStringLiteral("wall"), modulesWallSeconds(runner, *module, 8, 1500) },
        { QStringLiteral("parallel"), runner.maxParallel() } };
}

int parallelSpeedup()
{
    bench::Figure f { QStringLiteral("cli"), QStringLiteral("parallel_speedup"),
        QStringLiteral("x") };
    f.better = QStringLiteral("higher");
    f.peerName = QStringLiteral("the same 8 runs one at a time");
    std::vector<double> wallParallel, wallSerial;
    int parallel = 0;
    for (const auto &[o, p] : bench::measureIsolated(QStringLiteral("speedup"), { &f })) {
        const double ow = o.value(QLatin1String("wall")).toDouble();
        const double pw = p.value(QLatin1String("wall")).toDouble();
        wallParallel.push_back(ow);
        wallSerial.push_back(pw);
        f.ours.push_back(pw / ow); // speedup of the default queue
        f.peer.push_back(1.0); // one at a time is speedup 1 by definition
        parallel = o.value(QLatin1String("parallel")).toInt();
    }
    f.extra.insert(QStringLiteral("wall_parallel_s"), bench::median(wallParallel));
    f.extra.insert(QStringLiteral("wall_serial_s"), bench::median(wallSerial));
    f.extra.insert(QStringLiteral("queue_parallel"), parallel);
    f.extra.insert(QStringLiteral("cores"), QThread::idealThreadCount());
    f.extra.insert(QStringLiteral("target_ratio_min"), 1.8);
    bench::report(f);
    return f.oursFailures;
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
        if (one.at(0) == QLatin1String("overhead"))
            bench::printResult(overheadChild(ours));
        else if (one.at(0) == QLatin1String("scan"))
            bench::printResult(scanChild(ours));
        else if (one.at(0) == QLatin1String("speedup"))
            bench::printResult(speedupChild(ours));
        else
            return 2;
        return 0;
    }
    const QStringList args = app.arguments().mid(1);
    const auto want
        = [&](const char *name) { return args.isEmpty() || args.contains(QLatin1String(name)); };
    // A peer that failed is a figure; ours failing fails the suite.
    int oursFailed = 0;
    if (want("overhead"))
        oursFailed += runOverhead();
    if (want("scan"))
        oursFailed += semScanThroughput();
    if (want("speedup"))
        oursFailed += parallelSpeedup();
    return oursFailed > 0 ? 1 : 0;
}
