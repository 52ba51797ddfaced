// HistoryPanel: the searchable list of past runs, from RunHistory; GUI thread only.
#pragma once

#include "runhistory.h"

#include <QAbstractTableModel>
#include <QTimer>
#include <QWidget>

QT_BEGIN_NAMESPACE
class QLabel;
class QLineEdit;
class QPushButton;
class QTableView;
QT_END_NAMESPACE

namespace studio {

// Past runs, newest first.
class HistoryModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column { Ended, Module, State, ExitCode, Duration, PeakMemory, Values, ColumnCount };
    using QAbstractTableModel::QAbstractTableModel;

    void setRecords(QList<RunRecord> records);
    void prepend(const RunRecord &record);
    const RunRecord &record(int row) const { return m_records[row]; }
    const QList<RunRecord> &records() const { return m_records; }

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    QList<RunRecord> m_records;
};

// Searches as the user types (debounced); shows why the history is unavailable, and the runs
// kept in memory meanwhile. Does not own the history.
class HistoryPanel : public QWidget
{
    Q_OBJECT
public:
    static constexpr int shownRuns = 500; // the newest runs shown (a search's limit)

    explicit HistoryPanel(RunHistory *history, QWidget *parent = nullptr);

    HistoryModel *model() const { return m_model; }
    QTableView *view() const { return m_view; }
    void setSearchText(const QString &text);
    void reload();
    bool isLoading() const { return m_loading > 0; }
    QString statusText() const;

Q_SIGNALS:
    void rerunRequested(const studio::RunRecord &record);
    void loadRequested(const studio::RunRecord &record);

private:
    const RunRecord *selected() const;
    void updateStatus();

    RunHistory *m_history;
    HistoryModel *m_model;
    QTableView *m_view;
    QLineEdit *m_search;
    QLabel *m_status;
    QPushButton *m_rerun, *m_load;
    QTimer m_debounce;
    int m_loading = 0;
    quint64 m_query = 0;
};

} // namespace studio
