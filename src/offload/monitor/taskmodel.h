// TaskModel: a table of every Offload task for views; GUI thread only.
#pragma once

#include <offload/core/taskhandle.h>
#include <offload/monitor/export.h>

#include <QAbstractTableModel>
#include <QBasicTimer>

#include <memory>

namespace offload {

// Rows are tasks (oldest first), columns the Column enum. Changes are pulled from the
// TaskRegistry on a timer (updateInterval, default 100 ms), so a task reporting progress a
// million times costs at most one dataChanged per tick; a view repaints at most that often
// (running tasks' Elapsed cells change once a second).
// Thread-safety: create, use and destroy on the GUI (or one owning) thread only.
// Ownership: rows hold TaskHandleBase copies, keeping finished tasks' data until cleared or
// pushed out by maxFinished.
class OFFLOAD_MONITOR_EXPORT TaskModel : public QAbstractTableModel
{
    Q_OBJECT
public:
    enum Column {
        Name,
        Kind,
        State,
        Progress,
        Stage,
        Text,
        Elapsed,
        Pid,
        Memory,
        Cpu,
        Error,
        ColumnCount
    };
    Q_ENUM(Column)
    enum Role {
        FractionRole = Qt::UserRole + 1, // double in [0,1], or -1 when indeterminate
        StateRole, // int(offload::TaskState)
        TaskIdRole, // quint64
        IsFinalRole, // bool
    };
    Q_ENUM(Role)

    explicit TaskModel(QObject *parent = nullptr);
    ~TaskModel() override;

    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    TaskHandleBase task(int row) const;
    int rowOf(quint64 taskId) const; // -1 if absent

    // Finished, failed and cancelled tasks kept for display; the oldest go first. Default 200.
    int maxFinished() const;
    void setMaxFinished(int count);
    int updateInterval() const;
    void setUpdateInterval(int msecs);

    void clearFinished();
    // Pulls pending changes now instead of waiting for the timer (tests, snapshots).
    void refresh();

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    struct Row;
    void append(const std::vector<TaskHandleBase> &tasks);
    void trimFinished();
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace offload
