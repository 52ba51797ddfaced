#include "monitorpanel.h"

#include "runcontroller.h"
#include "statedelegate.h"
#include <offload/process/shellquote.h>

#include <offload/monitor/taskmodel.h>
#include <offload/widgets/progressdelegate.h>
#include <offload/widgets/tasktreeview.h>

#include <QApplication>
#include <QClipboard>
#include <QComboBox>
#include <QDesktopServices>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QMenu>
#include <QPushButton>
#include <QSortFilterProxyModel>
#include <QTreeView>
#include <QUrl>
#include <QVBoxLayout>

namespace studio {

using offload::TaskModel;
using offload::TaskState;

// Filters by state and kind; a parent stays when one of its children matches.
class TaskFilterProxy : public QSortFilterProxyModel
{
public:
    using QSortFilterProxyModel::QSortFilterProxyModel;
    MonitorPanel::StateFilter state = MonitorPanel::AllStates;
    QString kind;

    void refilter() { invalidateRowsFilter(); }

protected:
    bool filterAcceptsRow(int row, const QModelIndex &parent) const override
    {
        const QModelIndex i = sourceModel()->index(row, int(TaskModel::Column::Kind), parent);
        if (!kind.isEmpty() && i.data().toString() != kind)
            return false;
        const auto s = TaskState(i.data(TaskModel::StateRole).toInt());
        switch (state) {
        case MonitorPanel::AllStates:
            return true;
        case MonitorPanel::Active:
            return !offload::isFinalState(s);
        case MonitorPanel::Finished:
            return s == TaskState::Finished;
        case MonitorPanel::Failed:
            return s == TaskState::Failed;
        case MonitorPanel::Cancelled:
            return s == TaskState::Cancelled;
        }
        return true;
    }
};

MonitorPanel::MonitorPanel(RunController *controller, QWidget *parent)
    : QWidget(parent)
    , m_controller(controller)
    , m_model(new TaskModel(this))
    , m_proxy(new TaskFilterProxy(this))
    , m_view(new offload::TaskTreeView(this))
    , m_state(new QComboBox(this))
    , m_kind(new QComboBox(this))
    , m_count(new QLabel(this))
{
    m_model->setMaxFinished(20000);
    m_proxy->setRecursiveFilteringEnabled(true);

    m_state->addItems(
        { tr("All states"), tr("Active"), tr("Finished"), tr("Failed"), tr("Cancelled") });
    m_kind->addItem(tr("All kinds"), QString());
    for (const char *k : { "program", "worker", "thread", "coroutine" })
        m_kind->addItem(QString::fromLatin1(k), QString::fromLatin1(k));
    auto *clear = new QPushButton(tr("Clear finished"), this);
    m_count->setMinimumWidth(
        m_count->fontMetrics().horizontalAdvance(tr("%n task(s)", nullptr, 888888)));
    m_count->setAlignment(Qt::AlignRight | Qt::AlignVCenter);

    auto *bar = new QHBoxLayout;
    bar->addWidget(new QLabel(tr("Show:"), this));
    bar->addWidget(m_state);
    bar->addWidget(m_kind);
    bar->addStretch();
    bar->addWidget(m_count);
    bar->addWidget(clear);

    // Uniform row heights (TaskTreeView sets them) let the view lay out 10,000 rows without
    // measuring each one. Unfiltered, the view shows the model itself: a filter proxy
    // re-examines every row of every change, which only a filter justifies.
    m_view->setModel(m_model);
    m_view->setItemDelegateForColumn(
        int(TaskModel::Column::Progress), new offload::ProgressDelegate(m_view));
    m_view->setItemDelegateForColumn(
        int(TaskModel::Column::State), new StateDelegate(m_model, m_proxy, m_view));
    m_view->setSelectionMode(QAbstractItemView::ExtendedSelection);
    m_view->setContextMenuPolicy(Qt::CustomContextMenu);
    m_view->setAlternatingRowColors(true);
    m_view->setMouseTracking(true);
    m_view->header()->setStretchLastSection(true);
    m_view->setColumnWidth(int(TaskModel::Column::Name), 260);
    m_view->setColumnWidth(int(TaskModel::Column::Kind), 80);
    m_view->setColumnWidth(int(TaskModel::Column::State), 120);
    m_view->setColumnWidth(int(TaskModel::Column::Progress), 150);
    m_view->setColumnWidth(int(TaskModel::Column::Stage), 110);
    m_view->setColumnWidth(int(TaskModel::Column::Text), 160);
    m_view->setColumnWidth(int(TaskModel::Column::Elapsed), 70);
    m_view->setColumnWidth(int(TaskModel::Column::Pid), 60);
    m_view->setColumnWidth(int(TaskModel::Column::Memory), 80);
    m_view->setColumnWidth(int(TaskModel::Column::Cpu), 60);

    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(bar);
    layout->addWidget(m_view);

    connect(m_state, &QComboBox::currentIndexChanged, this,
        [this](int i) { setStateFilter(StateFilter(i)); });
    connect(m_kind, &QComboBox::currentIndexChanged, this,
        [this](int i) { setKindFilter(m_kind->itemData(i).toString()); });
    connect(clear, &QPushButton::clicked, m_model, &TaskModel::clearFinished);
    connect(m_view, &QWidget::customContextMenuRequested, this, &MonitorPanel::showMenu);
    connectSelection();
    connect(m_model, &QAbstractItemModel::rowsInserted, this, &MonitorPanel::updateCount);
    connect(m_model, &QAbstractItemModel::rowsRemoved, this, &MonitorPanel::updateCount);
    connect(m_model, &QAbstractItemModel::modelReset, this, &MonitorPanel::updateCount);
    updateCount();
}

MonitorPanel::~MonitorPanel() = default;

QSortFilterProxyModel *MonitorPanel::proxy() const
{
    return m_proxy;
}

void MonitorPanel::connectSelection()
{
    connect(m_view->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this] { Q_EMIT currentTaskChanged(currentTaskId()); });
}

// The proxy is attached only while a filter is set (see the constructor).
void MonitorPanel::applyFilters()
{
    const bool filtered = m_proxy->state != AllStates || !m_proxy->kind.isEmpty();
    const quint64 current = currentTaskId();
    QAbstractItemModel *wanted = filtered ? static_cast<QAbstractItemModel *>(m_proxy) : m_model;
    if (m_view->model() != wanted) {
        QItemSelectionModel *old = m_view->selectionModel();
        if (filtered)
            m_proxy->setSourceModel(m_model);
        m_view->setModel(wanted);
        delete old;
        if (!filtered)
            m_proxy->setSourceModel(nullptr);
        connectSelection();
    } else if (filtered) {
        m_proxy->refilter();
    }
    if (current)
        selectTask(current);
}

QModelIndex MonitorPanel::toView(const QModelIndex &modelIndex) const
{
    return m_view->model() == m_proxy ? m_proxy->mapFromSource(modelIndex) : modelIndex;
}

void MonitorPanel::setStateFilter(StateFilter filter)
{
    m_proxy->state = filter;
    applyFilters();
    if (m_state->currentIndex() != int(filter))
        m_state->setCurrentIndex(int(filter));
    updateCount();
}

void MonitorPanel::setKindFilter(const QString &kind)
{
    m_proxy->kind = kind;
    applyFilters();
    const int i = m_kind->findData(kind);
    if (i >= 0 && m_kind->currentIndex() != i)
        m_kind->setCurrentIndex(i);
    updateCount();
}

void MonitorPanel::updateCount()
{
    m_count->setText(tr("%n task(s)", nullptr, m_model->rowCount()));
}

offload::TaskHandleBase MonitorPanel::taskAt(const QModelIndex &viewIndex) const
{
    return m_model->task(m_view->model() == m_proxy ? m_proxy->mapToSource(viewIndex) : viewIndex);
}

quint64 MonitorPanel::currentTaskId() const
{
    const QModelIndex i = m_view->currentIndex();
    return i.isValid() ? i.data(TaskModel::TaskIdRole).toULongLong() : 0;
}

void MonitorPanel::selectTask(quint64 taskId)
{
    m_model->refresh();
    const QModelIndex i = toView(m_model->indexOf(taskId));
    if (!i.isValid())
        return;
    m_view->scrollTo(i);
    m_view->selectionModel()->setCurrentIndex(
        i, QItemSelectionModel::ClearAndSelect | QItemSelectionModel::Rows);
}

QStringList MonitorPanel::menuActions(quint64 taskId) const
{
    const auto index = m_model->indexOf(taskId);
    if (!index.isValid())
        return {};
    const auto task = m_model->task(index);
    const RunInfo *run = m_controller ? m_controller->info(taskId) : nullptr;
    QStringList actions;
    if (!task.isFinal())
        actions << tr("Cancel");
    if (run) {
        actions << tr("Retry") << tr("Copy command line");
        if (!run->outputFolder.isEmpty())
            actions << tr("Open output folder");
        actions << tr("Show log");
    }
    return actions;
}

bool MonitorPanel::trigger(quint64 taskId, const QString &action)
{
    const auto index = m_model->indexOf(taskId);
    if (!index.isValid() || !menuActions(taskId).contains(action))
        return false;
    const RunInfo *run = m_controller ? m_controller->info(taskId) : nullptr;
    if (action == tr("Cancel"))
        m_model->task(index).cancel();
    else if (action == tr("Retry"))
        Q_EMIT retryRequested(taskId);
    else if (action == tr("Copy command line") && run)
        QApplication::clipboard()->setText(offload::shellQuote(run->commandLine));
    else if (action == tr("Open output folder") && run)
        QDesktopServices::openUrl(QUrl::fromLocalFile(run->outputFolder));
    else if (action == tr("Show log"))
        Q_EMIT showLogRequested(taskId);
    return true;
}

void MonitorPanel::showMenu(const QPoint &pos)
{
    const QModelIndex i = m_view->indexAt(pos);
    if (!i.isValid())
        return;
    const quint64 id = i.data(TaskModel::TaskIdRole).toULongLong();
    QMenu menu(this);
    for (const QString &a : menuActions(id))
        menu.addAction(a, this, [this, id, a] { trigger(id, a); });
    if (!menu.isEmpty())
        menu.exec(m_view->viewport()->mapToGlobal(pos));
}

} // namespace studio
