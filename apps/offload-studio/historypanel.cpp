#include "historypanel.h"

#include <QHBoxLayout>
#include <QHeaderView>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QTableView>
#include <QVBoxLayout>

namespace studio {

void HistoryModel::setRecords(QList<RunRecord> records)
{
    beginResetModel();
    m_records = std::move(records);
    endResetModel();
}

void HistoryModel::prepend(const RunRecord &record)
{
    beginInsertRows({}, 0, 0);
    m_records.prepend(record);
    endInsertRows();
    if (m_records.size() > HistoryPanel::shownRuns) { // the oldest go, as a search would drop them
        beginRemoveRows({}, HistoryPanel::shownRuns, int(m_records.size()) - 1);
        m_records.resize(HistoryPanel::shownRuns);
        endRemoveRows();
    }
}

int HistoryModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(m_records.size());
}

int HistoryModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant HistoryModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid)
        || (role != Qt::DisplayRole && role != Qt::ToolTipRole))
        return {};
    const RunRecord &r = m_records[index.row()];
    if (role == Qt::ToolTipRole)
        return r.error.isEmpty() ? r.modulePath : r.error;
    switch (Column(index.column())) {
    case Ended:
        return r.ended.toLocalTime().toString(QStringLiteral("yyyy-MM-dd HH:mm:ss"));
    case Module:
        return r.moduleTitle.isEmpty() ? r.modulePath : r.moduleTitle;
    case State:
        return r.id == 0 ? tr("%1 (not saved)").arg(r.state) : r.state;
    case ExitCode:
        return r.exitCode >= 0 ? QVariant(r.exitCode) : QVariant();
    case Duration:
        return r.started.isValid() && r.ended.isValid() ? QVariant(QStringLiteral("%1 s").arg(
                   double(r.started.msecsTo(r.ended)) / 1000.0, 0, 'f', 1))
                                                        : QVariant();
    case PeakMemory:
        return r.peakRssBytes > 0
            ? QVariant(QStringLiteral("%1 MiB").arg(double(r.peakRssBytes) / (1 << 20), 0, 'f', 1))
            : QVariant();
    case Values:
        return QString::fromUtf8(
            QJsonDocument(QJsonObject::fromVariantMap(r.values)).toJson(QJsonDocument::Compact));
    case ColumnCount:
        break;
    }
    return {};
}

QVariant HistoryModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    static const char *const names[]
        = { "Ended", "Module", "State", "Exit code", "Duration", "Peak memory", "Values" };
    return section >= 0 && section < ColumnCount ? tr(names[section]) : QVariant();
}

HistoryPanel::HistoryPanel(RunHistory *history, QWidget *parent)
    : QWidget(parent)
    , m_history(history)
    , m_model(new HistoryModel(this))
    , m_view(new QTableView(this))
    , m_search(new QLineEdit(this))
    , m_status(new QLabel(this))
    , m_rerun(new QPushButton(tr("Run again"), this))
    , m_load(new QPushButton(tr("Load into form"), this))
{
    m_search->setPlaceholderText(tr("Search past runs (module, values, state, error)"));
    m_search->setClearButtonEnabled(true);
    m_status->setTextFormat(Qt::PlainText);
    m_status->setWordWrap(true);
    m_view->setModel(m_model);
    m_view->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_view->setSelectionMode(QAbstractItemView::SingleSelection);
    m_view->verticalHeader()->hide();
    m_view->horizontalHeader()->setStretchLastSection(true);
    m_view->setColumnWidth(HistoryModel::Ended, 150);
    m_view->setColumnWidth(HistoryModel::Module, 160);
    m_view->setAlternatingRowColors(true);
    m_view->setWordWrap(false);

    auto *bar = new QHBoxLayout;
    bar->addWidget(m_search, 1);
    bar->addWidget(m_rerun);
    bar->addWidget(m_load);
    auto *layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addLayout(bar);
    layout->addWidget(m_status);
    layout->addWidget(m_view, 1);

    m_debounce.setSingleShot(true);
    m_debounce.setInterval(250);
    connect(&m_debounce, &QTimer::timeout, this, &HistoryPanel::reload);
    connect(m_search, &QLineEdit::textChanged, this, [this] { m_debounce.start(); });
    connect(m_rerun, &QPushButton::clicked, this, [this] {
        if (const RunRecord *r = selected())
            Q_EMIT rerunRequested(*r);
    });
    connect(m_load, &QPushButton::clicked, this, [this] {
        if (const RunRecord *r = selected())
            Q_EMIT loadRequested(*r);
    });
    connect(m_view, &QAbstractItemView::doubleClicked, this, [this] {
        if (const RunRecord *r = selected())
            Q_EMIT loadRequested(*r);
    });
    connect(history, &RunHistory::recorded, this, [this](const RunRecord &r) {
        if (m_search->text().isEmpty())
            m_model->prepend(r);
    });
    connect(history, &RunHistory::problemOccurred, this, [this](const QString &) {
        updateStatus();
        // Shows the runs kept in memory; debounced, since a batch may end thousands of runs
        // and each reload walks all of them.
        if (!m_history->isAvailable() && !m_debounce.isActive())
            m_debounce.start();
    });
    connect(history, &RunHistory::availabilityChanged, this, [this] {
        updateStatus();
        reload();
    });
    updateStatus();
}

void HistoryPanel::setSearchText(const QString &text)
{
    m_search->setText(text);
    m_debounce.stop();
    reload();
}

void HistoryPanel::reload()
{
    const quint64 query = ++m_query;
    if (!m_history->isAvailable()) {
        const QString text = m_search->text();
        QList<RunRecord> kept;
        const auto unsaved = m_history->unsaved();
        for (auto it = unsaved.crbegin(); it != unsaved.crend() && kept.size() < shownRuns; ++it)
            if (text.isEmpty() || it->moduleTitle.contains(text, Qt::CaseInsensitive)
                || it->state.contains(text, Qt::CaseInsensitive)
                || it->error.contains(text, Qt::CaseInsensitive))
                kept << *it;
        m_model->setRecords(kept);
        updateStatus();
        return;
    }
    ++m_loading;
    m_history->search(m_search->text(), shownRuns)
        .onFinished([this, query](const offload::TaskHandle<QList<RunRecord>> &t) {
            --m_loading;
            if (query != m_query)
                return; // a newer search is on its way
            if (t.state() == offload::TaskState::Finished)
                m_model->setRecords(t.result());
            updateStatus();
        });
}

QString HistoryPanel::statusText() const
{
    return m_status->text();
}

void HistoryPanel::updateStatus()
{
    if (m_history->isAvailable()) {
        const int unsaved = int(m_history->unsaved().size());
        m_status->setText(unsaved
                ? tr("%n run(s) could not be saved and are kept until Studio quits.", nullptr,
                    unsaved)
                : QString());
    } else {
        m_status->setText(tr("History is disabled: %1. Runs are kept until Studio quits.")
                              .arg(m_history->problem().isEmpty() ? tr("no database is open")
                                                                  : m_history->problem()));
    }
    m_status->setVisible(!m_status->text().isEmpty());
}

const RunRecord *HistoryPanel::selected() const
{
    const QModelIndex i = m_view->currentIndex();
    return i.isValid() ? &m_model->record(i.row()) : nullptr;
}

} // namespace studio
