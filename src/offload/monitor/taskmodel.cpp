#include <offload/monitor/taskmodel.h>

#include <offload/core/taskregistry.h>

#include <QTimerEvent>

#include <algorithm>
#include <unordered_map>

namespace offload {

struct TaskModel::Row
{
    TaskHandleBase task;
    TaskState state = TaskState::Queued;
    offload::Progress progress;
    QString name;
    QString error;
    std::chrono::milliseconds elapsed { 0 };
    ProcessInfo process;

    void snapshot()
    {
        state = task.state();
        process = task.processInfo();
        progress = task.progress();
        name = task.name();
        elapsed = task.elapsed();
        if (state == TaskState::Failed)
            error = task.error().summary();
    }
};

struct TaskModel::Private
{
    int listener = 0;
    std::vector<Row> rows;
    std::unordered_map<quint64, int> rowById;
    int maxFinished = 200;
    int interval = 100;
    QBasicTimer timer;
};

TaskModel::TaskModel(QObject *parent) : QAbstractTableModel(parent), d(std::make_unique<Private>())
{
    auto &registry = TaskRegistry::instance();
    d->listener = registry.addListener();
    auto live = registry.liveTasks();
    std::sort(live.begin(), live.end(),
        [](const TaskHandleBase &a, const TaskHandleBase &b) { return a.id() < b.id(); });
    append(live);
    d->timer.start(d->interval, this);
}

TaskModel::~TaskModel()
{
    TaskRegistry::instance().removeListener(d->listener);
}

int TaskModel::rowCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : int(d->rows.size());
}

int TaskModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() ? 0 : ColumnCount;
}

// Running tasks show whole seconds, so their cell changes (and repaints) once a second, not
// on every tick; finished ones show tenths.
static QString formatElapsed(std::chrono::milliseconds ms, bool final)
{
    const qint64 t = ms.count();
    if (t >= 60'000)
        return QStringLiteral("%1:%2")
            .arg(t / 60'000)
            .arg((t / 1000) % 60, 2, 10, QLatin1Char('0'));
    if (final)
        return QString::number(double(t) / 1000.0, 'f', 1) + QStringLiteral(" s");
    return QString::number(t / 1000) + QStringLiteral(" s");
}

QVariant TaskModel::data(const QModelIndex &index, int role) const
{
    if (!checkIndex(index, CheckIndexOption::IndexIsValid | CheckIndexOption::ParentIsInvalid))
        return {};
    const Row &r = d->rows[size_t(index.row())];
    switch (role) {
    case FractionRole:
        return r.progress.fraction();
    case StateRole:
        return int(r.state);
    case TaskIdRole:
        return QVariant::fromValue(r.task.id());
    case IsFinalRole:
        return isFinalState(r.state);
    case Qt::ToolTipRole:
        if (r.state == TaskState::Failed)
            return r.error;
        return {};
    case Qt::DisplayRole:
        break;
    default:
        return {};
    }
    switch (Column(index.column())) {
    case Name:
        return r.name;
    case Kind:
        return r.task.kind();
    case State:
        return stateName(r.state);
    case Progress: {
        const double f = r.progress.fraction();
        return f < 0 ? QVariant() : QVariant(QStringLiteral("%1%").arg(int(f * 100.0)));
    }
    case Stage:
        if (r.progress.stage.isNull())
            return {};
        if (r.progress.stage.count > 0)
            return QStringLiteral("%1 (%2/%3)")
                .arg(r.progress.stage.name)
                .arg(r.progress.stage.index + 1)
                .arg(r.progress.stage.count);
        return r.progress.stage.name;
    case Text:
        return r.progress.text;
    case Elapsed:
        return formatElapsed(r.elapsed, isFinalState(r.state));
    case Pid:
        return r.process.pid > 0 ? QVariant(r.process.pid) : QVariant();
    case Memory:
        return r.process.rssBytes >= 0 ? QVariant(
                   QStringLiteral("%1 MiB").arg(double(r.process.rssBytes) / (1 << 20), 0, 'f', 1))
                                       : QVariant();
    case Cpu:
        return r.process.cpuSeconds >= 0
            ? QVariant(QStringLiteral("%1 s").arg(r.process.cpuSeconds, 0, 'f', 1))
            : QVariant();
    case Error:
        return r.error;
    case ColumnCount:
        break;
    }
    return {};
}

QVariant TaskModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractTableModel::headerData(section, orientation, role);
    static const char *const names[] = { "Name", "Kind", "State", "Progress", "Stage", "Text",
        "Elapsed", "PID", "Memory", "CPU", "Error" };
    if (section < 0 || section >= ColumnCount)
        return {};
    return tr(names[section]);
}

QHash<int, QByteArray> TaskModel::roleNames() const
{
    auto roles = QAbstractTableModel::roleNames();
    roles.insert(FractionRole, "fraction");
    roles.insert(StateRole, "state");
    roles.insert(TaskIdRole, "taskId");
    roles.insert(IsFinalRole, "isFinal");
    return roles;
}

TaskHandleBase TaskModel::task(int row) const
{
    if (row < 0 || row >= int(d->rows.size()))
        return {};
    return d->rows[size_t(row)].task;
}

int TaskModel::rowOf(quint64 taskId) const
{
    auto it = d->rowById.find(taskId);
    return it == d->rowById.end() ? -1 : it->second;
}

int TaskModel::maxFinished() const
{
    return d->maxFinished;
}

void TaskModel::setMaxFinished(int count)
{
    d->maxFinished = std::max(0, count);
    trimFinished();
}

int TaskModel::updateInterval() const
{
    return d->interval;
}

void TaskModel::setUpdateInterval(int msecs)
{
    d->interval = std::max(1, msecs);
    d->timer.start(d->interval, this);
}

void TaskModel::append(const std::vector<TaskHandleBase> &tasks)
{
    std::vector<Row> fresh;
    for (const auto &t : tasks) {
        if (d->rowById.count(t.id()))
            continue;
        Row r { t };
        r.snapshot();
        fresh.push_back(std::move(r));
    }
    if (fresh.empty())
        return;
    const int first = int(d->rows.size());
    beginInsertRows({}, first, first + int(fresh.size()) - 1);
    for (auto &r : fresh) {
        d->rowById.emplace(r.task.id(), int(d->rows.size()));
        d->rows.push_back(std::move(r));
    }
    endInsertRows();
}

void TaskModel::refresh()
{
    auto changes = TaskRegistry::instance().takeChanges(d->listener);
    append(changes.added);

    // One dataChanged over the span of changed rows, plus the Elapsed column of running rows.
    int lo = INT_MAX, hi = -1;
    for (const auto &t : changes.changed) {
        auto it = d->rowById.find(t.id());
        if (it == d->rowById.end())
            continue;
        d->rows[size_t(it->second)].snapshot();
        lo = std::min(lo, it->second);
        hi = std::max(hi, it->second);
    }
    if (hi >= 0)
        Q_EMIT dataChanged(index(lo, 0), index(hi, ColumnCount - 1));

    int runLo = INT_MAX, runHi = -1;
    for (int i = 0; i < int(d->rows.size()); ++i) {
        Row &r = d->rows[size_t(i)];
        if (isFinalState(r.state))
            continue;
        const auto before = formatElapsed(r.elapsed, false);
        r.elapsed = r.task.elapsed();
        if (formatElapsed(r.elapsed, false) == before)
            continue; // the cell would look the same: no repaint
        runLo = std::min(runLo, i);
        runHi = i;
    }
    if (runHi >= 0)
        Q_EMIT dataChanged(index(runLo, Elapsed), index(runHi, Elapsed), { Qt::DisplayRole });
    trimFinished();
}

void TaskModel::trimFinished()
{
    int finished = 0;
    for (const auto &r : d->rows)
        finished += isFinalState(r.state) ? 1 : 0;
    int excess = finished - d->maxFinished;
    // Remove the oldest finished rows, one contiguous block at a time.
    while (excess > 0) {
        int i = 0;
        while (i < int(d->rows.size()) && !isFinalState(d->rows[size_t(i)].state))
            ++i;
        int j = i;
        while (j < int(d->rows.size()) && j - i < excess && isFinalState(d->rows[size_t(j)].state))
            ++j;
        beginRemoveRows({}, i, j - 1);
        d->rows.erase(d->rows.begin() + i, d->rows.begin() + j);
        endRemoveRows();
        excess -= j - i;
    }
    if (finished > d->maxFinished) {
        d->rowById.clear();
        for (int i = 0; i < int(d->rows.size()); ++i)
            d->rowById.emplace(d->rows[size_t(i)].task.id(), i);
    }
}

void TaskModel::clearFinished()
{
    const int keep = d->maxFinished;
    d->maxFinished = 0;
    trimFinished();
    d->maxFinished = keep;
}

void TaskModel::timerEvent(QTimerEvent *event)
{
    if (event->timerId() == d->timer.timerId())
        refresh();
    else
        QAbstractTableModel::timerEvent(event);
}

} // namespace offload
