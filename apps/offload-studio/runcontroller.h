// RunController: starts Studio's module runs and batches and keeps what the GUI shows of
// them; GUI thread only.
#pragma once

#include "runhistory.h"

#include <offload/coro/task.h>
#include <offload/modules/modulerunner.h>

#include <QObject>
#include <QTimer>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <vector>

namespace studio {

// Everything known about one module run, live while it runs.
struct RunInfo
{
    quint64 taskId = 0;
    offload::TaskHandle<offload::ProgramResult> task;
    offload::Module module;
    QVariantMap values;
    QStringList commandLine; // program, launch arguments, the module's arguments
    offload::Launcher launcher; // where it runs
    QString outputFolder; // the folder of the first output file, if any
    QByteArray stdoutTail, stderrTail; // the newest outputTailBytes of each stream
    QDateTime started, ended;
    qint64 peakRssBytes = -1;
    QVariantMap returnValues; // also a failed run's partial ones
    QStringList returnWarnings;
    offload::Error error; // a failed run's
    offload::TaskState state = offload::TaskState::Queued;
    quint64 batchId = 0; // the batch's task id, 0 if none
    qint64 historyId = 0; // 0 until stored
};

// Runs go through one ModuleRunner whose limit is maxParallel (queued beyond it, FIFO); a
// batch has its own runner limited to its parallelism, and a parent task (a coroutine that
// follows its children and reports their overall progress) with every run as its child in the
// monitor. Every finished run is recorded in the history, if one is given.
// Thread-safety: GUI thread only. Ownership: owns the runners (destroying the controller
// cancels queued runs and stops running ones, bounded by the cancel grace); not the history.
class RunController : public QObject
{
    Q_OBJECT
public:
    static constexpr qint64 outputTailBytes = 64 * 1024;

    explicit RunController(RunHistory *history = nullptr, QObject *parent = nullptr);
    ~RunController() override;

    // Applies to runs started afterwards; runs already queued keep their runner's limit.
    void setMaxParallel(int runs);
    int maxParallel() const { return m_maxParallel; }
    void setCancelGrace(std::chrono::milliseconds grace) { m_grace = grace; }
    // Where runs started afterwards go (local by default); runs already started stay put.
    void setLauncher(const offload::Launcher &launcher) { m_launcher = launcher; }
    const offload::Launcher &launcher() const { return m_launcher; }

    // The argv the run would execute ("<return-parameter-file>" stands for the runner's private
    // file), or an empty list and *error when the values are invalid.
    static QStringList commandLine(
        const offload::Module &module, const QVariantMap &values, QString *error = nullptr);

    // Starts a run where `where` says (nullptr: launcher()); returns its task id, or 0 with
    // *error when the values are invalid.
    quint64 run(const offload::Module &module, const QVariantMap &values, QString *error = nullptr,
        const offload::Launcher *where = nullptr);
    // Runs the module once per input, every run where launcher() says now, (each input set as
    // `parameter`), at most `parallel` at once; returns the batch's task id, or 0 with *error (an
    // unknown parameter, or an input that is invalid for it, is reported before anything starts).
    // Runs are started as earlier ones end, so a batch of 100,000 inputs costs the GUI thread what
    // its running runs cost: each run's child row appears in the monitor when it starts, and
    // cancelling the batch cancels the running ones and starts no more.
    quint64 runBatch(const offload::Module &module, const QVariantMap &values,
        const QString &parameter, const QVariantList &inputs, int parallel,
        QString *error = nullptr);

    const RunInfo *info(quint64 taskId) const; // nullptr for a task that is not a Studio run
    bool isBatch(quint64 taskId) const;
    int activeCount() const; // runs and batches not final
    int aliveProcessCount() const; // runs with a live process (Starting or Running)
    void cancelAll();

Q_SIGNALS:
    void runStarted(quint64 taskId);
    void runOutput(quint64 taskId);
    void runEnded(quint64 taskId);
    void allEnded(); // activeCount() fell to 0

private:
    struct Batch;
    RunInfo &start(offload::ModuleRunner &runner, const offload::Module &module,
        const QVariantMap &values, const QStringList &commandLine,
        const offload::Launcher &launcher, quint64 batchId);
    void finish(quint64 taskId);
    void feed(const std::shared_ptr<Batch> &batch);
    void samplePeaks();
    offload::Task<void> driveBatch(std::shared_ptr<Batch> batch);

    RunHistory *m_history;
    int m_maxParallel;
    std::chrono::milliseconds m_grace { 2000 };
    offload::Launcher m_launcher;
    std::vector<std::unique_ptr<offload::ModuleRunner>> m_runners; // back(): new runs
    std::map<quint64, RunInfo> m_runs;
    std::set<quint64> m_live; // runs not final: every per-run walk is over these only
    std::deque<quint64> m_ended; // final runs still in m_runs, oldest end first
    std::map<quint64, std::shared_ptr<Batch>> m_batches;
    QTimer m_peakTimer;
};

} // namespace studio
