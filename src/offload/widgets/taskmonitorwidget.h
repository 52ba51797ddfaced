// TaskMonitorWidget: a ready-made task list with progress bars and cancel; GUI thread only.
#pragma once

#include <offload/widgets/export.h>

#include <QWidget>

QT_BEGIN_NAMESPACE
class QTreeView;
class QPushButton;
QT_END_NAMESPACE

namespace offload {

class TaskModel;

// Shows every Offload task (its own TaskModel, or one you pass) as a tree (a parent task's
// row expands to its children) with Cancel for the selected tasks (also the Delete key) and
// Clear finished. Cancel cancels exactly the selected rows' tasks: a parent's children are
// its owner's to cancel. Owns the view and the buttons; does not own a model passed in.
class OFFLOAD_WIDGETS_EXPORT TaskMonitorWidget : public QWidget
{
    Q_OBJECT
public:
    explicit TaskMonitorWidget(QWidget *parent = nullptr);
    TaskMonitorWidget(TaskModel *model, QWidget *parent);

    TaskModel *model() const { return m_model; }
    QTreeView *view() const { return m_view; }

public Q_SLOTS:
    void cancelSelected();
    void clearFinished();

private:
    void updateButtons();
    TaskModel *m_model = nullptr;
    QTreeView *m_view = nullptr;
    QPushButton *m_cancel = nullptr;
    QPushButton *m_clear = nullptr;
};

} // namespace offload
