// DetailsPane: everything about the selected task (its error in full, the live tail of its
// output, its return parameters, the exact command line); GUI thread only.
#pragma once

#include <offload/core/taskhandle.h>

#include <QBasicTimer>
#include <QWidget>

QT_BEGIN_NAMESPACE
class QLabel;
class QPlainTextEdit;
class QTabWidget;
class QTableWidget;
QT_END_NAMESPACE

namespace studio {

class RunController;

// Follows one task at a time. Output is redrawn at most five times a second however fast it
// arrives, and only the controller's bounded tail is shown. Does not own the controller.
class DetailsPane : public QWidget
{
    Q_OBJECT
public:
    explicit DetailsPane(RunController *controller, QWidget *parent = nullptr);

    void showTask(const offload::TaskHandleBase &task); // an invalid handle clears the pane
    quint64 taskId() const { return m_task.isValid() ? m_task.id() : 0; }

    // What is shown, for tests and screenshots.
    QString headline() const;
    QString errorText() const;
    QString stdoutText() const;
    QString stderrText() const;
    QString commandLineText() const;
    QVariantMap returnValuesShown() const;
    QTabWidget *tabs() const { return m_tabs; }

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    void refresh();

    RunController *m_controller;
    offload::TaskHandleBase m_task;
    bool m_dirty = false;
    QBasicTimer m_timer;
    QLabel *m_headline;
    QPlainTextEdit *m_error, *m_stdout, *m_stderr, *m_command;
    QTableWidget *m_returns;
    QTabWidget *m_tabs;
};

} // namespace studio
