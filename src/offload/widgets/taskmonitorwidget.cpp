#include <offload/widgets/taskmonitorwidget.h>

#include <offload/monitor/taskmodel.h>
#include <offload/widgets/progressdelegate.h>

#include <QAction>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QPushButton>
#include <offload/widgets/tasktreeview.h>

#include <QTreeView>
#include <QVBoxLayout>

namespace offload {

TaskMonitorWidget::TaskMonitorWidget(QWidget *parent) : TaskMonitorWidget(nullptr, parent) { }

TaskMonitorWidget::TaskMonitorWidget(TaskModel *model, QWidget *parent)
    : QWidget(parent)
    , m_model(model ? model : new TaskModel(this))
    , m_view(new TaskTreeView(this))
    , m_cancel(new QPushButton(tr("Cancel"), this))
    , m_clear(new QPushButton(tr("Clear finished"), this))
{
    m_view->setModel(m_model);
    // Parent tasks (a batch and its runs) are rows with children. Decorated from the start, so
    // that the first parent does not shift every row sideways.
    m_view->setRootIsDecorated(true);
    m_view->setUniformRowHeights(true);
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setItemDelegateForColumn(
        int(TaskModel::Column::Progress), new ProgressDelegate(m_view));
    m_view->header()->setStretchLastSection(true);
    const std::pair<TaskModel::Column, int> widths[] = { { TaskModel::Column::Name, 170 },
        { TaskModel::Column::Kind, 60 }, { TaskModel::Column::State, 75 },
        { TaskModel::Column::Progress, 150 }, { TaskModel::Column::Stage, 115 },
        { TaskModel::Column::Text, 150 }, { TaskModel::Column::Elapsed, 60 },
        { TaskModel::Column::Where, 90 }, { TaskModel::Column::Pid, 60 },
        { TaskModel::Column::Memory, 75 }, { TaskModel::Column::Cpu, 55 } };
    for (auto [column, width] : widths)
        m_view->setColumnWidth(int(column), width);

    auto *cancelAction = new QAction(tr("Cancel task"), this);
    cancelAction->setShortcut(QKeySequence::Delete);
    cancelAction->setShortcutContext(Qt::WidgetWithChildrenShortcut);
    addAction(cancelAction);
    connect(cancelAction, &QAction::triggered, this, &TaskMonitorWidget::cancelSelected);
    connect(m_cancel, &QPushButton::clicked, this, &TaskMonitorWidget::cancelSelected);
    connect(m_clear, &QPushButton::clicked, this, &TaskMonitorWidget::clearFinished);
    connect(m_view->selectionModel(), &QItemSelectionModel::selectionChanged, this,
        &TaskMonitorWidget::updateButtons);
    connect(m_model, &QAbstractItemModel::dataChanged, this, &TaskMonitorWidget::updateButtons);

    auto *buttons = new QHBoxLayout;
    buttons->addStretch();
    buttons->addWidget(m_cancel);
    buttons->addWidget(m_clear);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_view);
    layout->addLayout(buttons);
    updateButtons();
}

void TaskMonitorWidget::cancelSelected()
{
    const auto rows = m_view->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows) {
        const TaskHandleBase task = m_model->task(index); // a row at any depth
        if (task.isValid())
            task.cancel();
    }
}

void TaskMonitorWidget::clearFinished()
{
    m_model->clearFinished();
}

void TaskMonitorWidget::updateButtons()
{
    bool anyRunning = false;
    const auto rows = m_view->selectionModel()->selectedRows();
    for (const QModelIndex &index : rows)
        anyRunning |= !index.data(TaskModel::IsFinalRole).toBool();
    m_cancel->setEnabled(anyRunning);
}

} // namespace offload
