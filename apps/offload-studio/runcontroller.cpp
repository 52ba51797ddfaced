#include "runcontroller.h"

#include <offload/coro/awaitables.h>
#include <offload/sem/commandline.h>

#include <QFileInfo>
#include <QThread>

namespace studio {

using offload::TaskState;

// What the monitor's batch row follows.
struct RunController::Batch
{
    std::unique_ptr<offload::ModuleRunner> runner;
    std::vector<quint64> children;
    int total = 0, ended = 0, failed = 0, cancelled = 0;
    offload::TaskHandle<void> task;
};

// Finished runs kept for the details pane; older ones are forgotten (the history keeps them).
static constexpr size_t keptFinishedRuns = 1000;

RunController::RunController(RunHistory *history, QObject *parent)
    : QObject(parent), m_history(history), m_maxParallel(std::max(1, QThread::idealThreadCount()))
{
    m_runners.push_back(std::make_unique<offload::ModuleRunner>(m_maxParallel));
    m_peakTimer.setInterval(500);
    connect(&m_peakTimer, &QTimer::timeout, this, &RunController::samplePeaks);
}

RunController::~RunController()
{
    cancelAll();
    // The runners' destructors stop what is still running, bounded by each run's grace.
    m_batches.clear();
    m_runners.clear();
}

void RunController::setMaxParallel(int runs)
{
    runs = std::clamp(runs, 1, 256);
    if (runs == m_maxParallel)
        return;
    m_maxParallel = runs;
    m_runners.push_back(std::make_unique<offload::ModuleRunner>(runs));
}

QStringList RunController::commandLine(
    const offload::Module &module, const QVariantMap &values, QString *error)
{
    const auto cl = offload::sem::buildCommandLine(module.description, values,
        module.hasReturnParameters() ? QStringLiteral("<return-parameter-file>") : QString());
    if (!cl.ok()) {
        if (error)
            *error = cl.error;
        return {};
    }
    return QStringList { module.program } + module.launchArguments + cl.arguments;
}

static QString outputFolderOf(const offload::Module &module, const QVariantMap &values)
{
    static const QStringList fileTags
        = { QStringLiteral("file"), QStringLiteral("image"), QStringLiteral("directory"),
              QStringLiteral("geometry"), QStringLiteral("table"), QStringLiteral("transform") };
    for (const auto &group : module.description.groups)
        for (const auto &p : group.parameters) {
            if (p.channel != QLatin1String("output") || !fileTags.contains(p.tag))
                continue;
            const QString v = values.value(p.name, p.defaultValue).toString();
            if (v.isEmpty())
                continue;
            return p.tag == QLatin1String("directory") ? QFileInfo(v).absoluteFilePath()
                                                       : QFileInfo(v).absolutePath();
        }
    return {};
}

quint64 RunController::run(const offload::Module &module, const QVariantMap &values, QString *error)
{
    const QStringList argv = commandLine(module, values, error);
    if (argv.isEmpty())
        return 0;
    return start(*m_runners.back(), module, values, argv, 0).taskId;
}

RunInfo &RunController::start(offload::ModuleRunner &runner, const offload::Module &module,
    const QVariantMap &values, const QStringList &commandLine, quint64 batchId)
{
    offload::ModuleRunOptions options;
    options.cancelGrace = m_grace;
    auto task = runner.run(this, module, values, options);
    const quint64 id = task.id();
    RunInfo &info = m_runs[id];
    info.taskId = id;
    info.task = task;
    info.module = module;
    info.values = values;
    info.commandLine = commandLine;
    info.outputFolder = outputFolderOf(module, values);
    info.started = QDateTime::currentDateTimeUtc();
    info.batchId = batchId;
    info.state = task.state();
    task.onOutput([this, id](const offload::OutputChunk &chunk) {
        const auto it = m_runs.find(id);
        if (it == m_runs.end())
            return;
        QByteArray &tail = chunk.stream == offload::OutputChunk::Stderr ? it->second.stderrTail
                                                                        : it->second.stdoutTail;
        tail += chunk.data;
        if (tail.size() > outputTailBytes)
            tail.remove(0, tail.size() - outputTailBytes);
        Q_EMIT runOutput(id);
    });
    task.onStateChanged([this, id](TaskState s) {
        const auto it = m_runs.find(id);
        if (it != m_runs.end() && !isFinalState(s))
            it->second.state = s;
    });
    task.onFinished([this, id](const auto &) { finish(id); });
    if (!m_peakTimer.isActive())
        m_peakTimer.start();
    Q_EMIT runStarted(id);
    return info;
}

void RunController::finish(quint64 taskId)
{
    const auto it = m_runs.find(taskId);
    if (it == m_runs.end())
        return;
    RunInfo &info = it->second;
    info.state = info.task.state();
    info.ended = QDateTime::currentDateTimeUtc();
    const auto rss = info.task.processInfo().rssBytes;
    info.peakRssBytes = std::max(info.peakRssBytes, rss);
    std::optional<offload::ProgramResult> result;
    if (info.state == TaskState::Finished) {
        result = info.task.result();
    } else if (info.state == TaskState::Failed) {
        info.error = info.task.error();
        if (info.error.partial.canConvert<offload::ProgramResult>())
            result = info.error.partial.value<offload::ProgramResult>();
    }
    int exitCode = -1;
    if (result) {
        const auto rv = offload::ModuleRunner::returnValues(info.module, *result);
        info.returnValues = rv.values;
        info.returnWarnings = rv.warnings;
        if (result->signal == 0)
            exitCode = result->exitCode;
    } else if (info.error.exitCode) {
        exitCode = *info.error.exitCode;
    }

    if (m_history) {
        RunRecord rec;
        rec.modulePath = info.module.path;
        rec.moduleTitle = info.module.description.title;
        rec.values = info.values;
        rec.commandLine = info.commandLine;
        rec.started = info.started;
        rec.ended = info.ended;
        rec.state = offload::stateName(info.state).toLower();
        rec.exitCode = exitCode;
        rec.peakRssBytes = info.peakRssBytes;
        rec.returnValues = info.returnValues;
        rec.error = info.state == TaskState::Failed ? info.error.summary() : QString();
        m_history->record(rec).onResult([this, taskId](qint64 rowId) {
            const auto r = m_runs.find(taskId);
            if (r != m_runs.end())
                r->second.historyId = rowId;
        });
    }

    Q_EMIT runEnded(taskId);

    // Forget the oldest finished runs beyond what the details pane needs.
    size_t finished = 0;
    for (const auto &[id, r] : m_runs)
        finished += isFinalState(r.state) ? 1 : 0;
    for (auto r = m_runs.begin(); finished > keptFinishedRuns && r != m_runs.end();) {
        if (isFinalState(r->second.state)) {
            r = m_runs.erase(r);
            --finished;
        } else {
            ++r;
        }
    }
    if (activeCount() == 0) {
        m_peakTimer.stop();
        Q_EMIT allEnded();
    }
}

void RunController::samplePeaks()
{
    for (auto &[id, info] : m_runs)
        if (!isFinalState(info.state))
            info.peakRssBytes = std::max(info.peakRssBytes, info.task.processInfo().rssBytes);
}

quint64 RunController::runBatch(const offload::Module &module, const QVariantMap &values,
    const QString &parameter, const QVariantList &inputs, int parallel, QString *error)
{
    const auto fail = [error](const QString &why) {
        if (error)
            *error = why;
        return quint64(0);
    };
    if (inputs.isEmpty())
        return fail(tr("the batch has no inputs"));
    std::vector<std::pair<QVariantMap, QStringList>> runs;
    runs.reserve(size_t(inputs.size()));
    for (const QVariant &input : inputs) {
        QVariantMap v = values;
        v.insert(parameter, input);
        QString why;
        QStringList argv = commandLine(module, v, &why);
        if (argv.isEmpty())
            return fail(tr("input %1: %2").arg(input.toString(), why));
        runs.emplace_back(std::move(v), std::move(argv));
    }
    auto batch = std::make_shared<Batch>();
    batch->runner = std::make_unique<offload::ModuleRunner>(std::clamp(parallel, 1, 256));
    batch->total = int(runs.size());
    // The parent first, so that its children find it in the monitor.
    batch->task = driveBatch(batch);
    const quint64 batchId = batch->task.id();
    m_batches[batchId] = batch;
    for (auto &[v, argv] : runs) {
        RunInfo &info = start(*batch->runner, module, v, argv, batchId);
        info.task.setParent(batch->task);
        batch->children.push_back(info.taskId);
    }
    batch->task.onFinished([this, batchId](const auto &t) {
        const auto b = m_batches.find(batchId);
        if (b == m_batches.end())
            return;
        if (t.state() != TaskState::Finished)
            for (quint64 child : b->second->children)
                if (const RunInfo *r = info(child))
                    r->task.cancel();
        if (activeCount() == 0)
            Q_EMIT allEnded();
    });
    return batchId;
}

offload::Task<void> RunController::driveBatch(std::shared_ptr<Batch> batch)
{
    auto self = co_await offload::thisTask();
    self.setName(tr("Batch of %1 runs").arg(batch->total));
    self.setProgress(0, tr("0 of %1 done").arg(batch->total));
    for (;;) {
        int ended = 0, failed = 0, cancelled = 0;
        for (quint64 child : batch->children) {
            const RunInfo *r = info(child);
            const TaskState s = r ? r->state : TaskState::Finished; // forgotten: long finished
            ended += isFinalState(s) ? 1 : 0;
            failed += s == TaskState::Failed ? 1 : 0;
            cancelled += s == TaskState::Cancelled ? 1 : 0;
        }
        batch->ended = ended;
        batch->failed = failed;
        batch->cancelled = cancelled;
        QString text = tr("%1 of %2 done").arg(ended).arg(batch->total);
        if (failed)
            text += tr(", %1 failed").arg(failed);
        if (cancelled)
            text += tr(", %1 cancelled").arg(cancelled);
        self.setProgress(double(ended) / batch->total, text);
        if (!batch->children.empty() && ended == batch->total)
            break;
        // Every run's end wakes the batch; ends between two waits are counted above.
        co_await offload::signal(this, &RunController::runEnded);
    }
    if (batch->failed > 0)
        throw offload::Exception(offload::Error { offload::ErrorKind::Exception,
            tr("%1 of %2 runs failed").arg(batch->failed).arg(batch->total),
            QStringLiteral("batch") });
}

const RunInfo *RunController::info(quint64 taskId) const
{
    const auto it = m_runs.find(taskId);
    return it == m_runs.end() ? nullptr : &it->second;
}

bool RunController::isBatch(quint64 taskId) const
{
    return m_batches.count(taskId) > 0;
}

int RunController::activeCount() const
{
    int n = 0;
    for (const auto &[id, r] : m_runs)
        n += isFinalState(r.state) ? 0 : 1;
    for (const auto &[id, b] : m_batches)
        n += b->task.isFinal() ? 0 : 1;
    return n;
}

int RunController::aliveProcessCount() const
{
    int n = 0;
    for (const auto &[id, r] : m_runs) {
        const TaskState s = r.task.state();
        n += (s == TaskState::Starting || s == TaskState::Running) ? 1 : 0;
    }
    return n;
}

void RunController::cancelAll()
{
    for (const auto &[id, b] : m_batches)
        b->task.cancel();
    for (const auto &[id, r] : m_runs)
        r.task.cancel();
}

} // namespace studio
