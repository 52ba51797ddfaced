// MonitorPanel: Studio's task monitor (every task of every kind, as a tree, with filters,
// per-row cancel and a context menu); GUI thread only.
#pragma once

#include <offload/core/taskhandle.h>

#include <QWidget>

QT_BEGIN_NAMESPACE
class QComboBox;
class QLabel;
class QSortFilterProxyModel;
class QTreeView;
QT_END_NAMESPACE

namespace offload {
class TaskModel;
}

namespace studio {

class RunController;
class TaskFilterProxy;

// Owns its TaskModel, view and filters; uses (does not own) the controller for what only a
// Studio run has: retry, its command line, its output folder, its log.
class MonitorPanel : public QWidget
{
    Q_OBJECT
public:
    enum StateFilter { AllStates, Active, Finished, Failed, Cancelled };
    Q_ENUM(StateFilter)

    explicit MonitorPanel(RunController *controller, QWidget *parent = nullptr);
    ~MonitorPanel() override;

    offload::TaskModel *model() const { return m_model; }
    QTreeView *view() const { return m_view; }
    QSortFilterProxyModel *proxy() const; // attached to the model only while a filter is set
    QModelIndex toView(const QModelIndex &modelIndex) const; // a model index as the view shows it

    void setStateFilter(StateFilter filter);
    void setKindFilter(const QString &kind); // empty: every kind
    quint64 currentTaskId() const; // 0 if none
    void selectTask(quint64 taskId);
    // The context menu's actions for the task, as shown (for tests and the keyboard).
    QStringList menuActions(quint64 taskId) const;
    bool trigger(quint64 taskId, const QString &action);

Q_SIGNALS:
    void currentTaskChanged(quint64 taskId);
    void retryRequested(quint64 taskId);
    void showLogRequested(quint64 taskId);

private:
    void showMenu(const QPoint &pos);
    void updateCount();
    void applyFilters();
    void connectSelection();
    offload::TaskHandleBase taskAt(const QModelIndex &viewIndex) const;

    RunController *m_controller;
    offload::TaskModel *m_model;
    TaskFilterProxy *m_proxy;
    QTreeView *m_view;
    QComboBox *m_state, *m_kind;
    QLabel *m_count;
};

} // namespace studio
