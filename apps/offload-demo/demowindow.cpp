#include "demowindow.h"
#include "workload.h"

#include <offload/core/threadpool.h>
#include <offload/monitor/taskmodel.h>
#include <offload/widgets/taskmonitorwidget.h>

#include <QCoreApplication>
#include <QHBoxLayout>
#include <QJsonObject>
#include <QLabel>
#include <QPushButton>
#include <QTimer>
#include <QVBoxLayout>

namespace demo {

DemoWindow::DemoWindow(QWidget *parent)
    : QWidget(parent)
    , m_monitor(new offload::TaskMonitorWidget(this))
    , m_lag(new QLabel(this))
    , m_summary(new QLabel(this))
{
    setWindowTitle(tr("Offload demo"));
    auto *start = new QPushButton(tr("Run 4 CPU tasks"), this);
    auto *failing = new QPushButton(tr("Run a failing task"), this);
    auto *workerCalls = new QPushButton(tr("Run 2 worker calls"), this);
    connect(workerCalls, &QPushButton::clicked, this, [this] { startWorkerCalls(2); });
    auto *moduleRuns = new QPushButton(tr("Run 2 blur modules"), this);
    moduleRuns->setEnabled(false);
    connect(moduleRuns, &QPushButton::clicked, this, [this] { startModuleRuns(2); });
    auto *pipelineButton = new QPushButton(tr("Run a pipeline (coroutine)"), this);
    connect(pipelineButton, &QPushButton::clicked, this, [this] { startPipeline(); });
    auto *cancel = new QPushButton(tr("Cancel all"), this);
    connect(start, &QPushButton::clicked, this, [this] { startPrimeTasks(4); });
    connect(failing, &QPushButton::clicked, this, [this] { startPrimeTasks(1, true); });
    connect(cancel, &QPushButton::clicked, this, &DemoWindow::cancelAll);

    auto *buttons = new QHBoxLayout;
    buttons->addWidget(start);
    buttons->addWidget(failing);
    buttons->addWidget(workerCalls);
    buttons->addWidget(moduleRuns);
    buttons->addWidget(pipelineButton);
    buttons->addWidget(cancel);
    buttons->addStretch();
    auto *status = new QHBoxLayout;
    status->addWidget(m_summary);
    status->addStretch();
    status->addWidget(m_lag);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(m_monitor);
    layout->addLayout(status);
    resize(960, 480);

    connect(&m_probe, &offload::LatencyProbe::sampled, this,
        [this](double us) { m_window.push_back(us); });
    auto *timer = new QTimer(this);
    connect(timer, &QTimer::timeout, this, &DemoWindow::updateLag);
    timer->start(500);
    m_probe.start();
    updateLag();

    offload::WorkerPoolSpec spec;
    spec.program = QCoreApplication::applicationDirPath() + QStringLiteral("/offload-demo-worker");
    spec.name = QStringLiteral("demo-worker");
    spec.maxWorkers = 2;
    spec.prestart = 1;
    m_workers = std::make_unique<offload::WorkerPool>(spec);

    const QString blur
        = QCoreApplication::applicationDirPath() + QStringLiteral("/offload-example-blur");
    m_modules.describe(this, blur)
        .onFinished([this, moduleRuns](const offload::TaskHandle<offload::Module> &t) {
            if (t.state() == offload::TaskState::Finished) {
                m_blur = t.result();
                moduleRuns->setEnabled(true);
            } else {
                moduleRuns->setToolTip(t.error().summary());
            }
        });
}

offload::TaskHandle<offload::ProgramResult> DemoWindow::startModuleRuns(int count, bool failing)
{
    offload::TaskHandle<offload::ProgramResult> last;
    if (!m_blur)
        return last;
    for (int i = 0; i < count; ++i) {
        const int iterations = std::max(1, int((3000 + 1500 * (m_serial % 3)) * m_workScale));
        const QVariantMap values { { QStringLiteral("iterations"), iterations },
            { QStringLiteral("fail"), failing },
            { QStringLiteral("summary"),
                m_outputs.filePath(QStringLiteral("blur-%1.txt").arg(m_serial)) } };
        offload::ModuleRunOptions options;
        options.name = QStringLiteral("blur module, %1 passes #%2").arg(iterations).arg(++m_serial);
        auto run = m_modules.run(this, *m_blur, values, options);
        ++m_counters.started;
        run.onFinished([this](const auto &t) { countEnd(t.state()); });
        last = run;
    }
    return last;
}

offload::TaskHandle<offload::WorkerResult> DemoWindow::startWorkerCalls(int count, bool failing)
{
    offload::TaskHandle<offload::WorkerResult> last;
    for (int i = 0; i < count; ++i) {
        const qint64 limit = qint64((6'000'000 + 3'000'000 * (m_serial % 3)) * m_workScale);
        const QJsonObject args { { QStringLiteral("limit"), limit },
            { QStringLiteral("fail"), failing } };
        auto call = m_workers->submit(this, QStringLiteral("countPrimes"), args, {},
            { .name = QStringLiteral("worker primes < %1 #%2").arg(limit).arg(++m_serial) });
        ++m_counters.started;
        call.onFinished([this](const auto &t) { countEnd(t.state()); });
        last = call;
    }
    return last;
}

offload::Task<qint64> DemoWindow::startPipeline(bool failing)
{
    const qint64 limit = qint64((4'000'000 + 2'000'000 * (m_serial % 3)) * m_workScale);
    ++m_counters.started;
    offload::Task<qint64> task = pipeline(limit, failing);
    task.onFinished([this](const auto &t) { countEnd(t.state()); });
    return task;
}

offload::Task<qint64> DemoWindow::pipeline(qint64 limit, bool failing)
{
    auto self = co_await offload::thisTask();
    self.setName(QStringLiteral("pipeline primes < %1 #%2").arg(limit).arg(++m_serial));
    PrimeJob job;
    job.limit = limit;
    auto primes = offload::run(this, [job](offload::TaskControl &c) { return countPrimes(c, job); },
        { .name = QStringLiteral("pipeline step 1: primes < %1").arg(limit) });
    const qint64 onThread = co_await offload::weighted(primes, 0.5);
    QJsonObject args; // not braced inside the co_await (GCC 12)
    args.insert(QStringLiteral("limit"), limit / 2);
    args.insert(QStringLiteral("fail"), failing);
    auto call = m_workers->submit(this, QStringLiteral("countPrimes"), args, {},
        { .name = QStringLiteral("pipeline step 2: worker primes < %1").arg(limit / 2) });
    const offload::WorkerResult inWorker = co_await offload::weighted(call, 0.3);
    if (m_blur) {
        QVariantMap values;
        values.insert(QStringLiteral("iterations"), std::max(1, int(2000 * m_workScale)));
        values.insert(QStringLiteral("summary"),
            m_outputs.filePath(QStringLiteral("pipeline-%1.txt").arg(m_serial)));
        offload::ModuleRunOptions options;
        options.name = QStringLiteral("pipeline step 3: blur module");
        auto module = m_modules.run(this, *m_blur, values, options);
        co_await offload::weighted(module, 0.2);
    }
    co_return onThread + inWorker.value.toInteger();
}

offload::TaskHandle<qint64> DemoWindow::startPrimeTasks(int count, bool failing)
{
    offload::TaskHandle<qint64> last;
    for (int i = 0; i < count; ++i) {
        PrimeJob job;
        job.limit = qint64(
            (6'000'000 + 3'000'000 * (m_serial % 3)) * m_workScale); // 1-3 s of one core each
        job.failAtEnd = failing;
        const QString name = QStringLiteral("primes < %1 #%2").arg(job.limit).arg(++m_serial);
        ++m_counters.started;
        auto task = offload::run(
            this, [job](offload::TaskControl &c) { return countPrimes(c, job); }, { .name = name });
        task.onFinished([this](const auto &t) { countEnd(t.state()); });
        last = task;
    }
    return last;
}

void DemoWindow::countEnd(offload::TaskState state)
{
    switch (state) {
    case offload::TaskState::Finished:
        ++m_counters.finished;
        break;
    case offload::TaskState::Failed:
        ++m_counters.failed;
        break;
    default:
        ++m_counters.cancelled;
        break;
    }
    Q_EMIT taskEnded();
}

void DemoWindow::cancelAll()
{
    auto *model = m_monitor->model();
    for (int row = 0; row < model->rowCount(); ++row)
        model->task(row).cancel();
}

void DemoWindow::updateLag()
{
    const auto s = offload::latencyStats(std::exchange(m_window, {}));
    m_lag->setText(tr("GUI event-loop lag (last 0.5 s): p50 %1 µs · p99 %2 µs · max %3 µs")
                       .arg(s.p50us, 0, 'f', 0)
                       .arg(s.p99us, 0, 'f', 0)
                       .arg(s.maxus, 0, 'f', 0));
    m_summary->setText(tr("started %1 · finished %2 · failed %3 · cancelled %4")
                           .arg(m_counters.started)
                           .arg(m_counters.finished)
                           .arg(m_counters.failed)
                           .arg(m_counters.cancelled));
}

} // namespace demo
