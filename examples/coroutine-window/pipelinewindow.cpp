// The coroutine version: the whole pipeline reads top to bottom. Cancel (or closing the
// window) stops whatever step is running — the thread task's token, the worker call, the
// module's process tree — and the locals below are destroyed, the GUI never blocked.
#include "pipelinewindow.h"
#include "primes.h"

#include <offload/core/threadpool.h>

#include <QCoreApplication>
#include <QHBoxLayout>
#include <QJsonObject>
#include <QLabel>
#include <QPointer>
#include <QProgressBar>
#include <QPushButton>
#include <QVBoxLayout>

namespace {

offload::WorkerPoolSpec primeWorkers()
{
    offload::WorkerPoolSpec spec;
    spec.program = QCoreApplication::applicationDirPath() + QStringLiteral("/primeworker");
    spec.maxWorkers = 1;
    return spec;
}

} // namespace

PipelineWindow::PipelineWindow(QWidget *parent)
    : QWidget(parent)
    , m_coroutineButton(new QPushButton(tr("Run (coroutine)"), this))
    , m_callbacksButton(new QPushButton(tr("Run (callbacks)"), this))
    , m_cancelButton(new QPushButton(tr("Cancel"), this))
    , m_progress(new QProgressBar(this))
    , m_step(new QLabel(tr("Idle"), this))
    , m_result(new QLabel(this))
    , m_workers(primeWorkers())
    , m_modules(1)
{
    setWindowTitle(tr("Offload: a coroutine slot"));
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(m_coroutineButton);
    buttons->addWidget(m_callbacksButton);
    buttons->addWidget(m_cancelButton);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(buttons);
    layout->addWidget(m_progress);
    layout->addWidget(m_step);
    layout->addWidget(m_result);
    m_progress->setRange(0, 1000);
    m_cancelButton->setEnabled(false);
    resize(520, 160);
    connect(m_coroutineButton, &QPushButton::clicked, this, [this] { startCoroutine(); });
    connect(m_callbacksButton, &QPushButton::clicked, this, [this] { runWithCallbacks(); });
    connect(m_cancelButton, &QPushButton::clicked, this, &PipelineWindow::cancel);
}

void PipelineWindow::cancel()
{
    if (m_cancelCallbacks)
        m_cancelCallbacks();
    if (m_current.isValid())
        m_current.cancel();
}

void PipelineWindow::setBusy(bool busy)
{
    m_coroutineButton->setEnabled(!busy);
    m_callbacksButton->setEnabled(!busy);
    m_cancelButton->setEnabled(busy);
}

void PipelineWindow::showProgress(const offload::Progress &p)
{
    m_progress->setValue(int(p.fraction() * 1000));
    if (!p.text.isEmpty())
        m_step->setText(p.text);
}

void PipelineWindow::showResult(const QString &result)
{
    m_result->setText(result);
}

offload::Task<QString> PipelineWindow::startCoroutine()
{
    offload::Task<QString> task = runWithCoroutine();
    m_current = task; // Cancel cancels the coroutine, which cancels the step it awaits
    task.onProgress([this](const offload::Progress &p) { showProgress(p); });
    task.onFinished([this](const offload::TaskHandle<QString> &t) {
        if (t.state() == offload::TaskState::Failed)
            showResult(t.error().summary());
        if (t.state() == offload::TaskState::Cancelled)
            m_step->setText(tr("Cancelled"));
        if (t.state() == offload::TaskState::Finished)
            m_step->setText(tr("Done")); // after the last progress text, which arrives with the end
        Q_EMIT ended(offload::stateName(t.state()),
            t.state() == offload::TaskState::Finished ? t.result() : QString());
    });
    return task;
}

offload::Task<QString> PipelineWindow::runWithCoroutine()
{
    // Runs at the end whichever way the coroutine ends, cancelled included; QPointer because
    // the window may be the reason it ended.
    struct Busy
    {
        QPointer<PipelineWindow> window;
        ~Busy()
        {
            if (window)
                window->setBusy(false);
        }
    } busy { this };
    setBusy(true);
    auto self = co_await offload::thisTask();
    self.setName(QStringLiteral("pipeline (coroutine)"));

    // 1. A thread task (40% of the progress).
    m_step->setText(tr("Counting primes on a thread…"));
    Q_EMIT stepStarted(1);
    auto primes
        = offload::run(this, [](offload::TaskControl &t) { return countPrimes(t, 100'000); });
    const qint64 below100k = co_await offload::weighted(primes, 0.4);

    // 2. A call to a worker process (30%).
    m_step->setText(tr("Asking a worker process…"));
    Q_EMIT stepStarted(2);
    QJsonObject args; // built outside the co_await: GCC 12 and braced initialisers, see docs
    args.insert(QStringLiteral("limit"), 10'000);
    auto call = m_workers.submit(this, QStringLiteral("countPrimes"), args);
    const offload::WorkerResult below10k = co_await offload::weighted(call, 0.3);

    // 3. A Slicer-style CLI module (30%), its description read first.
    m_step->setText(tr("Running the blur module…"));
    auto described = m_modules.describe(
        this, QCoreApplication::applicationDirPath() + QStringLiteral("/offload-example-blur"));
    const offload::Module blur = co_await described;
    QVariantMap values;
    values.insert(QStringLiteral("iterations"), 2000 + int(below10k.value.toInteger() % 100));
    values.insert(QStringLiteral("summary"), QStringLiteral("/dev/null"));
    auto module = m_modules.run(this, blur, values);
    Q_EMIT stepStarted(3);
    const offload::ProgramResult ran = co_await offload::weighted(module, 0.3);
    const QVariant checksum
        = offload::ModuleRunner::returnValues(blur, ran).values.value(QStringLiteral("checksum"));

    // 4. Widgets, on the GUI thread as every line here.
    const QString result = tr("%1 primes below 100000, %2 below 10000, blur checksum %3")
                               .arg(below100k)
                               .arg(below10k.value.toInteger())
                               .arg(checksum.toLongLong());
    showResult(result);
    co_return result;
}
