// bench_studio: how responsive the GUI thread stays in Offload Studio under load, beside the
// same load shown the plain Qt way (a QTableWidget updated from QFutureWatcher signals), and
// what a history insert costs.
//
// The load, identical for both: 4 module runs (the in-tree blur module, CPU-bound, reporting
// SEM progress) and 2 worker calls (bench_worker "burn", 1000 progress messages/s each)
// saturating the 2 cores, plus 10,000 tasks that a producer thread updates 20,000 times a
// second in all. Each side runs in its own child process (so that a crash is counted, not
// fatal), alternately, several times; each reports the GUI ping (LatencyProbe) over a 5 s
// window after 1 s of warm-up, and the work done in it.
//
// history_insert_us: RunHistory::record() for 2000 runs, per run, on the history's thread;
// the peer is the synchronous QSqlQuery insert a plain application does on its GUI thread.
#include "../common/benchreport.h"
#include "../common/isolate.h"

#include "modulelibrary.h"
#include "monitorpanel.h"
#include "runcontroller.h"
#include "runhistory.h"
#include "studiowindow.h"

#include <offload/core/taskpromise.h>
#include <offload/monitor/latencyprobe.h>
#include <offload/monitor/taskmodel.h>
#include <offload/process/workerpool.h>

#include <QApplication>
#include <QElapsedTimer>
#include <QFutureInterface>
#include <QFutureWatcher>
#include <QHeaderView>
#include <QJsonDocument>
#include <QProcess>
#include <QSettings>
#include <QSqlDatabase>
#include <QSqlError>
#include <QSqlQuery>
#include <QTableWidget>
#include <QTemporaryDir>
#include <QTimer>

#include <atomic>
#include <thread>

namespace {

constexpr int taskCount = 10'000;
constexpr int updatesPerSecond = 20'000;
constexpr int warmupMs = 1000, windowMs = 5000;

QString binPath(const QString &name)
{
    return QCoreApplication::applicationDirPath() + QLatin1Char('/') + name;
}

// Drives progress into many tasks from one thread at a fixed rate; `apply` updates task i.
class Producer
{
public:
    template<typename F> void start(int tasks, F apply)
    {
        m_thread = std::thread([this, tasks, apply] {
            constexpr int perMs = updatesPerSecond / 1000;
            auto next = std::chrono::steady_clock::now();
            qint64 n = 0;
            while (!m_stop.load()) {
                for (int k = 0; k < perMs; ++k, ++n)
                    apply(int(n % tasks), int((n / tasks) % 100));
                m_updates.store(n);
                next += std::chrono::milliseconds(1);
                std::this_thread::sleep_until(next);
            }
        });
    }
    void stop()
    {
        m_stop = true;
        if (m_thread.joinable())
            m_thread.join();
    }
    qint64 updates() const { return m_updates.load(); }
    ~Producer() { stop(); }

private:
    std::thread m_thread;
    std::atomic<bool> m_stop { false };
    std::atomic<qint64> m_updates { 0 };
};

offload::WorkerPoolSpec workerSpec()
{
    offload::WorkerPoolSpec spec;
    spec.program = binPath(QStringLiteral("bench_worker"));
    spec.maxWorkers = 2;
    spec.name = QStringLiteral("bench_worker");
    return spec;
}

QVariantMap blurValues(const QTemporaryDir &dir, int i)
{
    return { { QStringLiteral("iterations"), 100000 },
        { QStringLiteral("summary"), dir.filePath(QStringLiteral("blur-%1.txt").arg(i)) } };
}

// Measures after warm-up, then prints the child's JSON line and quits.
void measure(QObject *context, offload::LatencyProbe &probe, std::function<QJsonObject()> work)
{
    probe.start();
    QTimer::singleShot(warmupMs, context, [&probe] { probe.reset(); });
    QTimer::singleShot(warmupMs + windowMs, context, [&probe, work] {
        const auto s = probe.stats();
        probe.stop();
        QJsonObject o = work();
        o.insert(QStringLiteral("p50us"), s.p50us);
        o.insert(QStringLiteral("p99us"), s.p99us);
        o.insert(QStringLiteral("maxus"), s.maxus);
        o.insert(QStringLiteral("samples"), s.count);
        std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
        std::fflush(stdout);
        QCoreApplication::quit();
    });
}

int runStudio()
{
    QTemporaryDir dir;
    auto settings
        = std::make_unique<QSettings>(dir.filePath(QStringLiteral("s.ini")), QSettings::IniFormat);
    settings->setValue(QStringLiteral("history/path"), dir.filePath(QStringLiteral("h.sqlite")));
    studio::StudioWindow window(std::move(settings));
    window.setQuitPolicy(studio::StudioWindow::QuitPolicy::CancelRuns);
    window.show();
    QElapsedTimer wait;
    wait.start();
    // Discovery over (the last module's form built) before the load starts: measured is the
    // steady state of a window at work, not its start-up.
    while ((window.library()->isDiscovering()
               || window.library()->find(QStringLiteral("offload-example-blur")) < 0)
        && wait.elapsed() < 30000)
        QCoreApplication::processEvents(QEventLoop::AllEvents, 50);
    const int row = window.library()->find(QStringLiteral("offload-example-blur"));
    if (row < 0)
        return 3;
    const offload::Module blur = window.library()->entry(row).module;

    // The 10,000 updated tasks, made as any producer makes its tasks.
    std::vector<offload::TaskPromise<int>> tasks;
    tasks.reserve(taskCount);
    for (int i = 0; i < taskCount; ++i) {
        offload::TaskPromise<int> task(
            &window, QStringLiteral("thread"), QStringLiteral("task %1").arg(i));
        task.markStarting();
        task.start();
        task.setProgressRange(0, 100);
        tasks.push_back(std::move(task));
    }
    Producer producer;
    producer.start(taskCount, [&tasks](int i, int v) { tasks[size_t(i)].setProgress(v); });

    std::vector<quint64> runs;
    window.controller()->setMaxParallel(4); // all four at once, as on the peer's side
    for (int i = 0; i < 4; ++i)
        runs.push_back(window.controller()->run(blur, blurValues(dir, i)));
    offload::WorkerPool pool(workerSpec());
    std::vector<offload::TaskHandle<offload::WorkerResult>> calls;
    for (int i = 0; i < 2; ++i)
        calls.push_back(pool.submit(&window, QStringLiteral("burn")));

    // Studio's own probe (the one behind its sparkline) measures; a second one would double
    // the pings on this side only.
    offload::LatencyProbe &probe = *window.probe();
    probe.stop();
    const qint64 before = producer.updates();
    measure(&window, probe, [&] {
        double moduleProgress = 0, workerProgress = 0;
        for (quint64 id : runs)
            if (const auto *r = window.controller()->info(id))
                moduleProgress += std::max(0.0, r->task.progress().fraction());
        for (const auto &c : calls)
            workerProgress += double(c.progress().value);
        return QJsonObject { { QStringLiteral("side"), QStringLiteral("studio") },
            { QStringLiteral("monitorRows"), window.monitor()->model()->rowCount() },
            { QStringLiteral("updates"), double(producer.updates() - before) },
            { QStringLiteral("moduleProgress"), moduleProgress },
            { QStringLiteral("workerSlices"), workerProgress } };
    });
    const int rc = QCoreApplication::exec();
    producer.stop();
    for (const auto &c : calls)
        c.cancel();
    window.controller()->cancelAll();
    for (auto &t : tasks)
        t.finish(0);
    return rc;
}

int runPeer()
{
    QTemporaryDir dir;
    // The module itself, described as the runner reads it (not timed).
    offload::ModuleRunner runner(4);
    auto describe = runner.describe(nullptr, binPath(QStringLiteral("offload-example-blur")));
    if (!describe.waitForFinished(std::chrono::seconds(30))
        || describe.state() != offload::TaskState::Finished)
        return 3;
    const offload::Module blur = describe.result();

    QTableWidget table(taskCount + 6, 4);
    table.setHorizontalHeaderLabels({ QStringLiteral("Name"), QStringLiteral("State"),
        QStringLiteral("Progress"), QStringLiteral("Text") });
    table.resize(1400, 900);
    table.show();
    std::vector<QFutureInterface<int>> futures(taskCount);
    std::vector<std::unique_ptr<QFutureWatcher<int>>> watchers;
    watchers.reserve(taskCount);
    for (int i = 0; i < taskCount; ++i) {
        table.setItem(i, 0, new QTableWidgetItem(QStringLiteral("task %1").arg(i)));
        table.setItem(i, 1, new QTableWidgetItem(QStringLiteral("Running")));
        table.setItem(i, 2, new QTableWidgetItem(QStringLiteral("0%")));
        futures[size_t(i)].reportStarted();
        futures[size_t(i)].setProgressRange(0, 100);
        auto w = std::make_unique<QFutureWatcher<int>>();
        QObject::connect(w.get(), &QFutureWatcherBase::progressValueChanged, &table,
            [&table, i](int v) { table.item(i, 2)->setText(QStringLiteral("%1%").arg(v)); });
        w->setFuture(futures[size_t(i)].future());
        watchers.push_back(std::move(w));
    }
    Producer producer;
    producer.start(taskCount, [&futures](int i, int v) { futures[size_t(i)].setProgressValue(v); });

    // The same module runs and worker calls, their rows updated from their own signals.
    std::vector<offload::TaskHandle<offload::ProgramResult>> runs;
    std::vector<std::unique_ptr<QFutureWatcher<offload::ProgramResult>>> runWatchers;
    for (int i = 0; i < 4; ++i) {
        const int row = taskCount + i;
        table.setItem(row, 0, new QTableWidgetItem(QStringLiteral("blur %1").arg(i)));
        table.setItem(row, 1, new QTableWidgetItem(QStringLiteral("Running")));
        table.setItem(row, 2, new QTableWidgetItem(QStringLiteral("0%")));
        auto run = runner.run(&table, blur, blurValues(dir, i));
        run.onProgress([&table, row](const offload::Progress &p) {
            table.item(row, 2)->setText(
                QStringLiteral("%1%").arg(int(std::max(0.0, p.fraction()) * 100)));
        });
        auto w = std::make_unique<QFutureWatcher<offload::ProgramResult>>();
        QObject::connect(w.get(), &QFutureWatcherBase::finished, &table,
            [&table, row] { table.item(row, 1)->setText(QStringLiteral("Ended")); });
        w->setFuture(run.toFuture());
        runWatchers.push_back(std::move(w));
        runs.push_back(run);
    }
    offload::WorkerPool pool(workerSpec());
    std::vector<offload::TaskHandle<offload::WorkerResult>> calls;
    for (int i = 0; i < 2; ++i) {
        const int row = taskCount + 4 + i;
        table.setItem(row, 0, new QTableWidgetItem(QStringLiteral("burn %1").arg(i)));
        table.setItem(row, 2, new QTableWidgetItem(QStringLiteral("0")));
        auto call = pool.submit(&table, QStringLiteral("burn"));
        call.onProgress([&table, row](const offload::Progress &p) {
            table.item(row, 2)->setText(QString::number(p.value));
        });
        calls.push_back(call);
    }

    offload::LatencyProbe probe;
    const qint64 before = producer.updates();
    measure(&table, probe, [&] {
        double moduleProgress = 0, workerProgress = 0;
        for (const auto &r : runs)
            moduleProgress += std::max(0.0, r.progress().fraction());
        for (const auto &c : calls)
            workerProgress += double(c.progress().value);
        return QJsonObject { { QStringLiteral("side"), QStringLiteral("peer") },
            { QStringLiteral("monitorRows"), table.rowCount() },
            { QStringLiteral("updates"), double(producer.updates() - before) },
            { QStringLiteral("moduleProgress"), moduleProgress },
            { QStringLiteral("workerSlices"), workerProgress } };
    });
    const int rc = QCoreApplication::exec();
    producer.stop();
    for (const auto &c : calls)
        c.cancel();
    for (const auto &r : runs)
        r.cancel();
    for (auto &f : futures)
        f.reportFinished();
    return rc;
}

studio::RunRecord sampleRecord(int i)
{
    studio::RunRecord r;
    r.modulePath = QStringLiteral("/opt/modules/offload-example-blur");
    r.moduleTitle = QStringLiteral("Synthetic Blur");
    r.values = { { QStringLiteral("iterations"), 20 + i },
        { QStringLiteral("sigma"), QStringLiteral("1.5") },
        { QStringLiteral("method"), QStringLiteral("gaussian") },
        { QStringLiteral("summary"), QStringLiteral("/data/out/summary-%1.txt").arg(i) } };
    r.commandLine = { r.modulePath, QStringLiteral("--iterations"), QString::number(20 + i),
        QStringLiteral("--sigma"), QStringLiteral("1.5"),
        QStringLiteral("/data/out/summary-%1.txt").arg(i) };
    r.started = QDateTime::currentDateTimeUtc();
    r.ended = r.started.addMSecs(1500);
    r.state = QStringLiteral("finished");
    r.exitCode = 0;
    r.peakRssBytes = 3 << 20;
    r.returnValues
        = { { QStringLiteral("checksum"), 299611071 }, { QStringLiteral("mean"), 0.4995 } };
    return r;
}

// Per insert, on the history thread (ours) and on the GUI thread (the peer's synchronous way).
int runHistory()
{
    constexpr int n = 2000;
    QTemporaryDir dir;
    QJsonObject out { { QStringLiteral("side"), QStringLiteral("history") } };
    {
        studio::RunHistory history;
        auto open = history.open(dir.filePath(QStringLiteral("ours.sqlite")));
        QElapsedTimer t;
        t.start();
        while (!open.isFinal() && t.elapsed() < 30000)
            QCoreApplication::processEvents(QEventLoop::AllEvents, 10);
        if (open.state() != offload::TaskState::Finished)
            return 3;
        std::vector<offload::TaskHandle<qint64>> inserts;
        inserts.reserve(n);
        QElapsedTimer gui;
        t.restart();
        qint64 guiNs = 0;
        for (int i = 0; i < n; ++i) {
            gui.start();
            inserts.push_back(history.record(sampleRecord(i)));
            guiNs += gui.nsecsElapsed();
        }
        if (!inserts.back().waitForFinished(std::chrono::seconds(120)))
            return 4;
        const double us = double(t.nsecsElapsed()) / 1000.0 / n;
        out.insert(QStringLiteral("oursUs"), us);
        out.insert(QStringLiteral("oursGuiUs"), double(guiNs) / 1000.0 / n);
        int failed = 0;
        for (const auto &h : inserts)
            failed += h.state() == offload::TaskState::Failed ? 1 : 0;
        out.insert(QStringLiteral("failed"), failed);
    }
    {
        auto db = QSqlDatabase::addDatabase(QStringLiteral("QSQLITE"), QStringLiteral("peer"));
        db.setDatabaseName(dir.filePath(QStringLiteral("peer.sqlite")));
        if (!db.open())
            return 5;
        QSqlQuery q(db);
        q.exec(QStringLiteral("PRAGMA journal_mode=WAL"));
        q.exec(QStringLiteral(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, module_path TEXT, module_title TEXT, "
            "values_json TEXT, command_line TEXT, started TEXT, ended TEXT, state TEXT, "
            "exit_code INTEGER, peak_rss INTEGER, return_values TEXT, error TEXT)"));
        QSqlQuery insert(db);
        insert.prepare(QStringLiteral(
            "INSERT INTO runs (module_path, module_title, values_json, command_line, started, "
            "ended, state, exit_code, peak_rss, return_values, error) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?)"));
        QElapsedTimer t;
        t.start();
        for (int i = 0; i < n; ++i) {
            const auto r = sampleRecord(i);
            insert.addBindValue(r.modulePath);
            insert.addBindValue(r.moduleTitle);
            insert.addBindValue(
                QString::fromUtf8(QJsonDocument(QJsonObject::fromVariantMap(r.values))
                                      .toJson(QJsonDocument::Compact)));
            insert.addBindValue(
                QString::fromUtf8(QJsonDocument(QJsonArray::fromStringList(r.commandLine))
                                      .toJson(QJsonDocument::Compact)));
            insert.addBindValue(r.started.toString(Qt::ISODateWithMs));
            insert.addBindValue(r.ended.toString(Qt::ISODateWithMs));
            insert.addBindValue(r.state);
            insert.addBindValue(r.exitCode);
            insert.addBindValue(r.peakRssBytes);
            insert.addBindValue(
                QString::fromUtf8(QJsonDocument(QJsonObject::fromVariantMap(r.returnValues))
                                      .toJson(QJsonDocument::Compact)));
            insert.addBindValue(QString());
            if (!insert.exec())
                return 6;
        }
        out.insert(QStringLiteral("peerGuiUs"), double(t.nsecsElapsed()) / 1000.0 / n);
        insert = QSqlQuery();
        q = QSqlQuery();
        db.close();
    }
    QSqlDatabase::removeDatabase(QStringLiteral("peer"));
    std::printf("%s\n", QJsonDocument(out).toJson(QJsonDocument::Compact).constData());
    return 0;
}

} // namespace

int main(int argc, char **argv)
{
    if (qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    QStringList one;
    if (bench::isChild(one)) {
        const QString mode = one.value(0);
        if (mode == QLatin1String("studio"))
            return runStudio();
        if (mode == QLatin1String("peer"))
            return runPeer();
        if (mode == QLatin1String("history"))
            return runHistory();
        return 2;
    }
    const int rounds = qEnvironmentVariableIntValue("BENCH_ROUNDS") > 0
        ? qEnvironmentVariableIntValue("BENCH_ROUNDS")
        : 5;
    int studioCrashes = 0, peerCrashes = 0, historyCrashes = 0;
    bench::Figure p99 { QStringLiteral("studio"), QStringLiteral("gui_ping_p99_studio"),
        QStringLiteral("us") };
    bench::Figure max { QStringLiteral("studio"), QStringLiteral("gui_ping_max_studio"),
        QStringLiteral("us") };
    p99.peerName = max.peerName = QStringLiteral("QTableWidget+QFutureWatcher");
    QJsonArray work;
    for (int r = 0; r < rounds; ++r) {
        // Alternate who goes first, so that a drift of the machine hits both sides alike.
        std::optional<QJsonObject> s, p;
        if (r % 2 == 0) {
            s = bench::inChild({ QStringLiteral("studio") }, studioCrashes);
            p = bench::inChild({ QStringLiteral("peer") }, peerCrashes);
        } else {
            p = bench::inChild({ QStringLiteral("peer") }, peerCrashes);
            s = bench::inChild({ QStringLiteral("studio") }, studioCrashes);
        }
        if (!s || !p)
            continue;
        p99.ours.push_back(s->value(QLatin1String("p99us")).toDouble());
        p99.peer.push_back(p->value(QLatin1String("p99us")).toDouble());
        max.ours.push_back(s->value(QLatin1String("maxus")).toDouble());
        max.peer.push_back(p->value(QLatin1String("maxus")).toDouble());
        work.append(QJsonArray { *s, *p });
    }
    const QJsonObject load { { QStringLiteral("tasks"), taskCount },
        { QStringLiteral("updatesPerSecond"), updatesPerSecond },
        { QStringLiteral("moduleRuns"), 4 }, { QStringLiteral("workerCalls"), 2 },
        { QStringLiteral("windowMs"), windowMs } };
    for (auto *f : { &p99, &max }) {
        f->extra.insert(QStringLiteral("load"), load);
        f->extra.insert(QStringLiteral("work"), work);
        f->attempts = rounds;
        f->oursFailures = studioCrashes;
        f->peerFailures = peerCrashes;
        bench::report(*f);
    }

    bench::Figure insert { QStringLiteral("studio"), QStringLiteral("history_insert_us"),
        QStringLiteral("us") };
    insert.peerName = QStringLiteral("synchronous QSqlQuery on the GUI thread");
    std::vector<double> guiCost;
    for (int r = 0; r < rounds; ++r) {
        const auto h = bench::inChild({ QStringLiteral("history") }, historyCrashes);
        if (!h)
            continue;
        insert.ours.push_back(h->value(QLatin1String("oursUs")).toDouble());
        insert.peer.push_back(h->value(QLatin1String("peerGuiUs")).toDouble());
        guiCost.push_back(h->value(QLatin1String("oursGuiUs")).toDouble());
    }
    insert.extra.insert(QStringLiteral("gui_thread_us_per_record"), bench::median(guiCost));
    insert.attempts = rounds; // both sides run in the same child
    insert.oursFailures = insert.peerFailures = historyCrashes;
    insert.extra.insert(QStringLiteral("note"),
        QStringLiteral("ours: on the history thread, per run, 2000 runs queued at once; "
                       "peer: the same rows inserted on the GUI thread"));
    bench::report(insert);
    // A peer that crashed is a figure; ours failing fails the suite.
    return studioCrashes + historyCrashes > 0 ? 1 : 0;
}
