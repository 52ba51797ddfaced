// TaskModel: a tree of every Offload task for views; GUI thread only.
#pragma once

#include <offload/core/taskhandle.h>
#include <offload/monitor/export.h>

#include <QAbstractItemModel>
#include <QBasicTimer>

#include <chrono>
#include <memory>

namespace offload {

// Rows are tasks (oldest first), columns the Column enum. A task whose parent
// (TaskHandleBase::setParent) is in the model is a child row of its parent's row, at any
// depth; every other task is a top-level row. A parent set after the row was shown moves the
// row under it (rowsMoved); a row shown before its parent arrived moves under it when it does.
// A cycle of parents (the setter's mistake) leaves one of its tasks top-level.
// Changes are pulled from the TaskRegistry on a timer (updateInterval, default 100 ms), so a
// task reporting progress a million times costs at most one dataChanged per tick; a view
// repaints at most that often. A tick costs in proportion to the changed rows, not to the
// size of the model (removing or moving a row also renumbers the rows after it); a burst of
// changes is applied in slices (60 us, up to 1 ms while the loop's other work is slow) with
// the event loop running in between, and
// changed rows are announced per run of adjacent rows. Running rows' Elapsed cells are
// computed when read and announced once a second, one dataChanged of that column per parent.
// refresh() applies everything at once.
// Finished rows: a top-level row is finished when its task and every task below it are final.
// Only those count against maxFinished and clearFinished, and each goes with its whole
// subtree; a child row stays while its top-level row does (a finished child of a running
// parent is part of the parent's display).
// Thread-safety: create, use and destroy on the GUI (or one owning) thread only.
// Ownership: rows hold TaskHandleBase copies, keeping finished tasks' data until cleared or
// pushed out by maxFinished.
class OFFLOAD_MONITOR_EXPORT TaskModel : public QAbstractItemModel
{
    Q_OBJECT
    // Properties and invokables for bindings (PyQt6 through QObject.setProperty and
    // QMetaObject.invokeMethod, QML), beside the C++ calls below.
    Q_PROPERTY(int maxFinished READ maxFinished WRITE setMaxFinished)
public:
    // Scoped: the columns must not shadow offload::Progress, Stage and Error in this class.
    enum class Column : int {
        Name,
        Kind,
        State,
        Progress,
        Stage,
        Text,
        Elapsed,
        Where, // "local" for a process on this machine, else e.g. "ssh://user@host"
        Pid, // on the machine Where names
        Memory,
        Cpu,
        Error,
    };
    static constexpr int ColumnCount = int(Column::Error) + 1;
    Q_ENUM(Column)
    enum Role {
        FractionRole = Qt::UserRole + 1, // double in [0,1], or -1 when indeterminate
        StateRole, // int(offload::TaskState)
        TaskIdRole, // quint64
        IsFinalRole, // bool
        ParentIdRole, // quint64: the task's parentId(), 0 if none (even if not in the model)
    };
    Q_ENUM(Role)

    explicit TaskModel(QObject *parent = nullptr);
    ~TaskModel() override;

    using QObject::parent;
    QModelIndex index(int row, int column, const QModelIndex &parent = {}) const override;
    QModelIndex parent(const QModelIndex &child) const override;
    int rowCount(const QModelIndex &parent = {}) const override;
    int columnCount(const QModelIndex &parent = {}) const override;
    QVariant data(const QModelIndex &index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    QHash<int, QByteArray> roleNames() const override;

    // Top-level rows, as rowCount(): the task of a top-level row; invalid if out of range.
    TaskHandleBase task(int row) const;
    // The task of a row at any depth; invalid for an index that is not one of this model's.
    TaskHandleBase task(const QModelIndex &index) const;
    // The top-level row of a task; -1 if absent or a child row (see indexOf()).
    int rowOf(quint64 taskId) const;
    // A task's index at any depth; invalid if absent or column is out of range.
    QModelIndex indexOf(quint64 taskId, int column = 0) const;
    QModelIndex indexOf(quint64 taskId, Column column) const
    {
        return indexOf(taskId, int(column));
    }
    // index() by Column, beside QAbstractItemModel's by int.
    QModelIndex index(int row, Column column, const QModelIndex &parent = {}) const
    {
        return index(row, int(column), parent);
    }

    // Finished top-level rows (with their subtrees) kept for display; the oldest go first.
    // Default 200.
    int maxFinished() const;
    void setMaxFinished(int count);
    // How often changes are pulled from tasks; default 100 ms, at least 1 ms.
    std::chrono::milliseconds updateInterval() const;
    void setUpdateInterval(std::chrono::milliseconds interval);

    // Removes every finished top-level row with its subtree (see above).
    Q_INVOKABLE void clearFinished();
    // Pulls pending changes now instead of waiting for the timer (tests, snapshots).
    Q_INVOKABLE void refresh();

protected:
    void timerEvent(QTimerEvent *event) override;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

} // namespace offload
