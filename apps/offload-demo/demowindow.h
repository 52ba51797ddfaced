// DemoWindow: buttons that start CPU-heavy tasks, the task monitor, and a live GUI-lag readout.
#pragma once

#include <offload/core/taskhandle.h>
#include <offload/coro/task.h>
#include <offload/modules/modulerunner.h>
#include <offload/monitor/latencyprobe.h>
#include <offload/process/workerpool.h>

#include <QTemporaryDir>
#include <QWidget>

#include <memory>

QT_BEGIN_NAMESPACE
class QLabel;
QT_END_NAMESPACE

namespace offload {
class TaskMonitorWidget;
}

namespace demo {

struct Counters
{
    int started = 0, finished = 0, failed = 0, cancelled = 0;
};

class DemoWindow : public QWidget
{
    Q_OBJECT
public:
    explicit DemoWindow(QWidget *parent = nullptr);

    // Starts count prime-counting tasks; returns the last one's handle.
    offload::TaskHandle<qint64> startPrimeTasks(int count, bool failing = false);
    // The same work as calls to the demo's worker processes.
    offload::TaskHandle<offload::WorkerResult> startWorkerCalls(int count, bool failing = false);
    // Runs of the in-tree SEM module offload-example-blur (an invalid handle until its
    // description has been read, which starts with the window).
    offload::TaskHandle<offload::ProgramResult> startModuleRuns(int count, bool failing = false);
    bool moduleReady() const { return m_blur.has_value(); }
    // One coroutine: a thread task, then a worker call, then a module run (once described),
    // its progress derived from theirs; a row of kind "coroutine" in the monitor.
    offload::Task<qint64> startPipeline(bool failing = false);
    void cancelAll();
    const Counters &counters() const { return m_counters; }
    int inFlight() const
    {
        return m_counters.started - m_counters.finished - m_counters.failed - m_counters.cancelled;
    }
    offload::LatencyProbe &probe() { return m_probe; }
    // Scales the size of every task (smoke tests use a small one so sanitizer builds finish).
    void setWorkScale(double scale) { m_workScale = scale; }

Q_SIGNALS:
    void taskEnded();

private:
    offload::Task<qint64> pipeline(qint64 limit, bool failing);
    void updateLag();
    void countEnd(offload::TaskState state);
    offload::TaskMonitorWidget *m_monitor;
    QLabel *m_lag;
    QLabel *m_summary;
    offload::LatencyProbe m_probe;
    std::unique_ptr<offload::WorkerPool> m_workers;
    offload::ModuleRunner m_modules;
    std::optional<offload::Module> m_blur;
    QTemporaryDir m_outputs; // the module's summary files
    std::vector<double> m_window;
    Counters m_counters;
    int m_serial = 0;
    double m_workScale = 1.0;
};

} // namespace demo
