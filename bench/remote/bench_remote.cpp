// Remote launcher benchmarks (docs/benchmarks.md) against the local testbed that
// scripts/testbed brings up (sshd on 127.0.0.1, a one-node Slurm): a worker call over ssh vs
// the same call to a local worker; the first run over ssh from a fresh application vs a bare
// `ssh host true`; a trivial module as a Slurm step vs a bare srun of the same program;
// sbatch until running; and how many squeue queries the application makes with 100 jobs in
// flight. Each side of a comparison runs in a child process, alternating.
#include "../common/benchreport.h"
#include "../common/isolate.h"

#include <offload/modules/modulerunner.h>
#include <offload/process/launcher.h>
#include <offload/process/programrunner.h>
#include <offload/process/workerpool.h>

#include <QCoreApplication>
#include <QDir>
#include <QEventLoop>
#include <QFile>
#include <QJsonObject>
#include <QProcess>
#include <QTemporaryDir>
#include <QThread>
#include <QTimer>

#include <chrono>
#include <cstdio>
#include <functional>

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using namespace offload;

namespace {

double ms(Clock::duration d)
{
    return std::chrono::duration<double, std::milli>(d).count();
}
QString bin(const char *name)
{
    return QCoreApplication::applicationDirPath() + QLatin1Char('/') + QLatin1String(name);
}
QString sshConfig()
{
    return qEnvironmentVariable("OFFLOAD_TEST_SSH_CONFIG");
}
QString sshHost()
{
    return qEnvironmentVariable("OFFLOAD_TEST_SSH_HOST", QStringLiteral("offload-test"));
}
QString partition()
{
    return qEnvironmentVariable("OFFLOAD_TEST_SLURM_PARTITION", QStringLiteral("debug"));
}
Launcher sshLauncher()
{
    SshTarget t;
    t.host = sshHost();
    t.configFile = sshConfig();
    return Launcher::ssh(t);
}
SlurmTarget slurmTarget(bool batch)
{
    SlurmTarget t;
    t.partition = partition();
    t.batch = batch;
    return t;
}

// Runs the event loop until done() or the deadline; false at the deadline. The loop sleeps
// between events (a timer looks at done() every millisecond): a loop that spun would take a
// core from the programs being measured.
bool waitFor(const std::function<bool()> &done, std::chrono::milliseconds within)
{
    const auto deadline = Clock::now() + within;
    QTimer tick;
    tick.start(1);
    while (!done()) {
        if (Clock::now() > deadline)
            return false;
        QCoreApplication::processEvents(QEventLoop::WaitForMoreEvents);
    }
    return true;
}

// Runs a program to its end; the time, or a negative number if it failed.
double timeProcess(const QString &program, const QStringList &args)
{
    QProcess p;
    const auto t0 = Clock::now();
    p.start(program, args);
    if (!p.waitForFinished(60000) || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        std::fprintf(stderr, "%s failed: %s\n", qPrintable(program),
            p.readAllStandardError().right(500).constData());
        return -1;
    }
    return ms(Clock::now() - t0);
}

// --- children: one measurement each, the result as a JSON line ---

int callRtt(bool overSsh)
{
    QObject ctx;
    WorkerPoolSpec spec;
    spec.program = bin("bench_worker");
    spec.maxWorkers = 1;
    spec.prestart = 1;
    if (overSsh)
        spec.launcher = sshLauncher();
    WorkerPool pool(spec);
    if (!waitFor([&] { return pool.status().ready >= 1; }, 30s))
        return 1;
    std::vector<double> samples;
    const int warmup = 100, count = 1000;
    bool failed = false;
    std::function<void()> next = [&] {
        if (int(samples.size()) == count + warmup || failed)
            return;
        const auto t0 = Clock::now();
        pool.submit(&ctx, QStringLiteral("noop")).onFinished([&, t0](const auto &t) {
            failed = failed || t.state() != TaskState::Finished;
            samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
            next();
        });
    };
    next();
    if (!waitFor([&] { return failed || int(samples.size()) == count + warmup; }, 120s) || failed)
        return 1;
    samples.erase(samples.begin(), samples.begin() + warmup);
    bench::printResult({ { QStringLiteral("p50"), bench::percentile(samples, 0.5) },
        { QStringLiteral("p99"), bench::percentile(samples, 0.99) } });
    return 0;
}

// The floor under a call over ssh: a line sent through an ssh session to `cat` and back,
// the same path (client, TCP, sshd, a pipe) without Offload.
int sshEcho()
{
    QProcess p;
    p.start(QStringLiteral("ssh"),
        { QStringLiteral("-F"), sshConfig(), QStringLiteral("-T"), QStringLiteral("-o"),
            QStringLiteral("BatchMode=yes"), sshHost(), QStringLiteral("exec cat") });
    if (!p.waitForStarted(10000))
        return 1;
    std::vector<double> samples;
    const int warmup = 100, count = 1000;
    for (int i = 0; i < warmup + count; ++i) {
        const auto t0 = Clock::now();
        p.write("x\n");
        QByteArray got;
        while (!got.endsWith('\n')) {
            if (!p.waitForReadyRead(10000))
                return 1;
            got += p.readAll();
        }
        if (i >= warmup)
            samples.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    p.closeWriteChannel();
    p.waitForFinished(10000);
    bench::printResult({ { QStringLiteral("p50"), bench::percentile(samples, 0.5) },
        { QStringLiteral("p99"), bench::percentile(samples, 0.99) } });
    return 0;
}

int firstCall(bool ours)
{
    if (!ours) {
        const double t = timeProcess(QStringLiteral("ssh"),
            { QStringLiteral("-F"), sshConfig(), QStringLiteral("-o"),
                QStringLiteral("BatchMode=yes"), sshHost(), QStringLiteral("true") });
        if (t < 0)
            return 1;
        bench::printResult({ { QStringLiteral("ms"), t } });
        return 0;
    }
    QObject ctx;
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("true");
    spec.progress = ProgressFormat::None;
    spec.launcher = sshLauncher();
    const auto t0 = Clock::now();
    auto run = runner.run(&ctx, spec); // a fresh process: the connection is made now
    if (!waitFor([&] { return run.isFinal(); }, 60s) || run.state() != TaskState::Finished)
        return 1;
    const double first = ms(Clock::now() - t0);
    // The same again over the connection now made: what each later run costs.
    const auto t1 = Clock::now();
    auto again = runner.run(&ctx, spec);
    if (!waitFor([&] { return again.isFinal(); }, 60s) || again.state() != TaskState::Finished)
        return 1;
    bench::printResult(
        { { QStringLiteral("ms"), first }, { QStringLiteral("later_ms"), ms(Clock::now() - t1) } });
    return 0;
}

int srunModule(bool ours)
{
    QTemporaryDir dir;
    const QString summary = dir.filePath(QStringLiteral("summary.txt"));
    const QString returns = dir.filePath(QStringLiteral("returns.txt"));
    if (!ours) { // what the module run starts, by hand
        // Named, so that a run killed at the timeout leaves no allocation behind.
        const QString name
            = QStringLiteral("bench-remote-peer-%1").arg(QCoreApplication::applicationPid());
        const double t = timeProcess(QStringLiteral("srun"),
            { QStringLiteral("-u"), QStringLiteral("--ntasks=1"), QStringLiteral("--nodes=1"),
                QStringLiteral("--job-name=") + name, QStringLiteral("--partition=") + partition(),
                bin("offload-example-blur"), QStringLiteral("--iterations"), QStringLiteral("1"),
                QStringLiteral("--method"), QStringLiteral("box"),
                QStringLiteral("--returnparameterfile"), returns, summary });
        if (t < 0) {
            QProcess::execute(QStringLiteral("scancel"), { QStringLiteral("--name=") + name });
            return 1;
        }
        bench::printResult({ { QStringLiteral("ms"), t } });
        return 0;
    }
    QObject ctx;
    ModuleRunner runner;
    auto described = runner.describe(&ctx, bin("offload-example-blur"));
    if (!waitFor([&] { return described.isFinal(); }, 30s)
        || described.state() != TaskState::Finished)
        return 1;
    ModuleRunOptions options;
    options.launcher = Launcher::slurm(slurmTarget(false));
    const auto t0 = Clock::now();
    auto run = runner.run(&ctx, described.result(),
        { { "iterations", 1 }, { "method", "box" }, { "summary", summary } }, options);
    if (!waitFor([&] { return run.isFinal(); }, 60s) || run.state() != TaskState::Finished) {
        std::fprintf(stderr, "module run: %s\n", qPrintable(run.error().message));
        return 1;
    }
    bench::printResult({ { QStringLiteral("ms"), ms(Clock::now() - t0) } });
    return 0;
}

int sbatchToRunning()
{
    QObject ctx;
    ProgramRunner runner(1);
    ProgramSpec spec;
    spec.program = QStringLiteral("sleep");
    spec.arguments = { "30" };
    spec.progress = ProgressFormat::None;
    spec.launcher = Launcher::slurm(slurmTarget(true));
    const auto t0 = Clock::now();
    auto run = runner.run(&ctx, spec);
    if (!waitFor([&] { return run.state() == TaskState::Running || run.isFinal(); }, 60s)
        || run.state() != TaskState::Running)
        return 1;
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    run.cancel();
    if (!waitFor([&] { return run.isFinal(); }, 30s))
        return 1;
    bench::printResult({ { QStringLiteral("s"), s } });
    return 0;
}

// squeue runs counted by a wrapper first on PATH, while `jobs` batch jobs wait or run.
int queryLoad(int jobs, std::chrono::seconds interval, std::chrono::seconds window)
{
    QTemporaryDir dir;
    const QString log = dir.filePath(QStringLiteral("squeue.log"));
    QFile wrapper(dir.filePath(QStringLiteral("squeue")));
    if (!wrapper.open(QIODevice::WriteOnly))
        return 1;
    wrapper.write(
        "#!/bin/sh\necho x >> '" + QFile::encodeName(log) + "'\nexec /usr/bin/squeue \"$@\"\n");
    wrapper.close();
    wrapper.setPermissions(
        QFileDevice::ReadOwner | QFileDevice::WriteOwner | QFileDevice::ExeOwner);
    qputenv("PATH", QFile::encodeName(dir.path()) + ':' + qgetenv("PATH"));
    const auto queries = [&] {
        QFile f(log);
        return f.open(QIODevice::ReadOnly) ? f.readAll().count('\n') : 0;
    };
    QObject ctx;
    auto runner = std::make_unique<ProgramRunner>(jobs);
    SlurmTarget target = slurmTarget(true);
    target.pollInterval = interval;
    std::vector<TaskHandle<ProgramResult>> runs;
    for (int i = 0; i < jobs; ++i) {
        ProgramSpec spec;
        spec.program = QStringLiteral("sleep");
        spec.arguments = { "600" };
        spec.launcher = Launcher::slurm(target);
        runs.push_back(runner->run(&ctx, spec));
    }
    // Counted once every job has been submitted (a new job brings a query within 2 s).
    QEventLoop settle;
    QTimer::singleShot(5000, &settle, &QEventLoop::quit);
    settle.exec();
    int failed = 0;
    for (auto &r : runs)
        failed += r.isFinal();
    const int before = queries();
    QEventLoop loop;
    QTimer::singleShot(std::chrono::milliseconds(window), &loop, &QEventLoop::quit);
    loop.exec();
    const int during = queries() - before;
    runner.reset(); // every job is cancelled
    if (failed > 0) {
        std::fprintf(stderr, "query load: %d of %d jobs failed early\n", failed, jobs);
        return 1;
    }
    bench::printResult({ { QStringLiteral("per_min"), during * 60.0 / double(window.count()) },
        { QStringLiteral("queries"), during } });
    return 0;
}

// --- the parent: figures ---

bench::Figure figure(const char *name, const char *unit, const char *peer)
{
    bench::Figure f { QStringLiteral("remote"), QLatin1String(name), QLatin1String(unit) };
    if (peer)
        f.peerName = QLatin1String(peer);
    return f;
}

// Ours against the peer; returns the pairs of results.
std::vector<std::pair<QJsonObject, QJsonObject>> compare(
    const char *measurement, const std::vector<std::pair<bench::Figure *, QString>> &figs)
{
    std::vector<bench::Figure *> all;
    for (auto &[f, key] : figs)
        all.push_back(f);
    const auto pairs = bench::measureIsolated(QLatin1String(measurement), all);
    for (const auto &[o, p] : pairs) {
        for (auto &[f, key] : figs) {
            f->ours.push_back(o.value(key).toDouble());
            f->peer.push_back(p.value(key).toDouble());
        }
    }
    for (auto &[f, key] : figs)
        bench::report(*f);
    return pairs;
}

// One side only, rounds() times in children.
void alone(bench::Figure &f, const QStringList &args, const QString &key, int times)
{
    f.attempts = times;
    for (int r = 0; r < times; ++r)
        if (auto o = bench::inChild(args, f.oursFailures, 5min))
            f.ours.push_back(o->value(key).toDouble());
    bench::report(f);
}

} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    QStringList one;
    if (bench::isChild(one)) {
        const QString what = one.value(0);
        const bool ours = one.value(1) == QLatin1String("ours");
        if (what == QLatin1String("rtt"))
            return callRtt(ours);
        if (what == QLatin1String("echo"))
            return ours ? callRtt(true) : sshEcho();
        if (what == QLatin1String("first"))
            return firstCall(ours);
        if (what == QLatin1String("srun"))
            return srunModule(ours);
        if (what == QLatin1String("sbatch"))
            return sbatchToRunning();
        if (what == QLatin1String("load"))
            return queryLoad(one.value(1).toInt(), std::chrono::seconds(one.value(2).toInt()),
                std::chrono::seconds(one.value(3).toInt()));
        return 2;
    }
    if (sshConfig().isEmpty() || qEnvironmentVariable("OFFLOAD_TEST_SLURM") != QLatin1String("1")) {
        std::fprintf(stderr,
            "bench_remote: needs the testbed (scripts/testbed up, then source the file it "
            "names); scripts/bench remote does both\n");
        return 3;
    }
    const QStringList args = app.arguments().mid(1);
    const auto want
        = [&](const char *name) { return args.isEmpty() || args.contains(QLatin1String(name)); };
    const bool quick = qEnvironmentVariableIntValue("OFFLOAD_BENCH_QUICK") != 0;
    if (want("rtt")) {
        auto p50 = figure("ssh_call_rtt_p50", "us", "the same call to a local worker");
        auto p99 = figure("ssh_call_rtt_p99", "us", "the same call to a local worker");
        p50.extra.insert(QStringLiteral("target_ratio"), 3);
        compare("rtt", { { &p50, QStringLiteral("p50") }, { &p99, QStringLiteral("p99") } });
        auto floor
            = figure("ssh_call_rtt_p50_vs_ssh_echo", "us", "a line to cat and back over ssh");
        compare("echo", { { &floor, QStringLiteral("p50") } });
    }
    if (want("first")) {
        auto f = figure("ssh_first_call_ms", "ms", "ssh host true");
        f.extra.insert(QStringLiteral("target_ratio"), 1.2);
        auto later = figure("ssh_later_run_ms", "ms", nullptr); // over the connection made
        for (const auto &[o, p] : compare("first", { { &f, QStringLiteral("ms") } }))
            later.ours.push_back(o.value(QStringLiteral("later_ms")).toDouble());
        bench::report(later);
    }
    if (want("srun")) {
        auto f = figure("srun_module_ms", "ms", "srun of the same program and arguments");
        f.extra.insert(QStringLiteral("target_ratio"), 1.2);
        compare("srun", { { &f, QStringLiteral("ms") } });
    }
    if (want("sbatch")) {
        auto f = figure("sbatch_to_running_s", "s", nullptr);
        alone(f, { QStringLiteral("sbatch") }, QStringLiteral("s"), bench::rounds());
    }
    if (want("load")) {
        const int interval = 10, window = quick ? 30 : 60, jobs = 100;
        auto f = figure("squeue_per_min_100_jobs", "queries/min", nullptr);
        f.extra.insert(QStringLiteral("jobs"), jobs);
        f.extra.insert(QStringLiteral("interval_s"), interval);
        f.extra.insert(QStringLiteral("target_per_min"), 60 / interval);
        alone(f,
            { QStringLiteral("load"), QString::number(jobs), QString::number(interval),
                QString::number(window) },
            QStringLiteral("per_min"), 1);
    }
    return 0;
}
