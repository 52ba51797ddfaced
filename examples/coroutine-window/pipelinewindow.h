// PipelineWindow: one slot that is a coroutine (thread task → worker call → module run →
// widgets), and the same pipeline written with callbacks (callbacks.cpp) for comparison.
#pragma once

#include <offload/coro/task.h>
#include <offload/modules/modulerunner.h>
#include <offload/process/workerpool.h>

#include <QWidget>

QT_BEGIN_NAMESPACE
class QLabel;
class QProgressBar;
class QPushButton;
QT_END_NAMESPACE

class PipelineWindow : public QWidget
{
    Q_OBJECT
public:
    explicit PipelineWindow(QWidget *parent = nullptr);

    // Each starts the pipeline; ended() reports how it ended.
    offload::Task<QString> startCoroutine();
    void runWithCallbacks();
    void cancel();

Q_SIGNALS:
    void stepStarted(int step); // 1 thread task, 2 worker call, 3 module run
    void ended(const QString &state, const QString &result);

private:
    offload::Task<QString> runWithCoroutine(); // the slot body: one coroutine
    void setBusy(bool busy);
    void showProgress(const offload::Progress &p);
    void showResult(const QString &result);

    QPushButton *m_coroutineButton, *m_callbacksButton, *m_cancelButton;
    QProgressBar *m_progress;
    QLabel *m_step, *m_result;
    offload::WorkerPool m_workers;
    offload::ModuleRunner m_modules;
    offload::TaskHandleBase m_current; // what Cancel stops
    std::function<void()> m_cancelCallbacks; // the callback version's own cancel
};
