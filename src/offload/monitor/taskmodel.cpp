// TaskModel: the QAbstractItemModel API, and pulling the registry's changes into the rows in
// bounded slices (the tree itself: taskmodeltree.cpp).
#include "taskmodel_p.h"

#include <offload/core/taskregistry.h>

#include <QTimerEvent>

#include <algorithm>
#include <limits>

namespace offload {

using Node = detail::TaskModelNode;
using Spans = detail::TaskModelSpans;

TaskModel::TaskModel(QObject *parent) : QAbstractItemModel(parent), d(std::make_unique<Private>())
{
    d->q = this;
    auto &registry = TaskRegistry::instance();
    d->listener = registry.addListener();
    auto live = registry.liveTasks();
    std::sort(live.begin(), live.end(),
        [](const TaskHandleBase &a, const TaskHandleBase &b) { return a.id() < b.id(); });
    d->append(live);
    d->timer.start(int(d->interval.count()), this);
}

TaskModel::~TaskModel()
{
    TaskRegistry::instance().removeListener(d->listener);
}

QModelIndex TaskModel::index(int row, int column, const QModelIndex &parent) const
{
    if (row < 0 || column < 0 || column >= ColumnCount)
        return {};
    const Node *p
        = parent.isValid() ? (parent.column() == 0 ? d->nodeAt(parent) : nullptr) : &d->root;
    if (!p || row >= int(p->children.size()))
        return {};
    return createIndex(row, column, quintptr(p->id));
}

QModelIndex TaskModel::parent(const QModelIndex &child) const
{
    if (!child.isValid() || child.model() != this)
        return {};
    const Node *p = d->nodeFor(child.internalId());
    if (!p || p == &d->root)
        return {};
    return d->indexOf(p);
}

int TaskModel::rowCount(const QModelIndex &parent) const
{
    if (!parent.isValid())
        return int(d->root.children.size());
    if (parent.column() != 0)
        return 0; // children hang off the first column only
    const Node *n = d->nodeAt(parent);
    return n ? int(n->children.size()) : 0;
}

int TaskModel::columnCount(const QModelIndex &parent) const
{
    return parent.isValid() && parent.column() != 0 ? 0 : ColumnCount;
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
    const Node *node = d->nodeAt(index);
    if (!node)
        return {};
    const Node &r = *node;
    switch (role) {
    case FractionRole:
        return r.progress.fraction();
    case StateRole:
        return int(r.state);
    case TaskIdRole:
        return QVariant::fromValue(r.id);
    case IsFinalRole:
        return isFinalState(r.state);
    case ParentIdRole:
        return QVariant::fromValue(r.declaredParent);
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
    case Column::Name:
        return r.name;
    case Column::Kind:
        return r.task.kind();
    case Column::State:
        return stateName(r.state);
    case Column::Progress: {
        const double f = r.progress.fraction();
        return f < 0 ? QVariant() : QVariant(QStringLiteral("%1%").arg(int(f * 100.0)));
    }
    case Column::Stage:
        if (r.progress.stage.isNull())
            return {};
        if (r.progress.stage.count > 0)
            return QStringLiteral("%1 (%2/%3)")
                .arg(r.progress.stage.name)
                .arg(r.progress.stage.index + 1)
                .arg(r.progress.stage.count);
        return r.progress.stage.name;
    case Column::Text:
        return r.progress.text;
    case Column::Elapsed:
        // Live for running rows (see broadcastElapsed), the final figure for ended ones.
        return isFinalState(r.state) ? formatElapsed(r.elapsed, true)
                                     : formatElapsed(r.task.elapsed(), false);
    case Column::Where:
        if (!r.process.location.isEmpty())
            return r.process.location;
        return r.process.pid > 0 ? QVariant(QStringLiteral("local")) : QVariant();
    case Column::Pid:
        return r.process.pid > 0 ? QVariant(r.process.pid) : QVariant();
    case Column::Memory:
        return r.process.rssBytes >= 0 ? QVariant(
                   QStringLiteral("%1 MiB").arg(double(r.process.rssBytes) / (1 << 20), 0, 'f', 1))
                                       : QVariant();
    case Column::Cpu:
        return r.process.cpuSeconds >= 0
            ? QVariant(QStringLiteral("%1 s").arg(r.process.cpuSeconds, 0, 'f', 1))
            : QVariant();
    case Column::Error:
        return r.error;
    }
    return {};
}

QVariant TaskModel::headerData(int section, Qt::Orientation orientation, int role) const
{
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole)
        return QAbstractItemModel::headerData(section, orientation, role);
    static const char *const names[] = { "Name", "Kind", "State", "Progress", "Stage", "Text",
        "Elapsed", "Where", "PID", "Memory", "CPU", "Error" };
    if (section < 0 || section >= ColumnCount)
        return {};
    return tr(names[section]);
}

QHash<int, QByteArray> TaskModel::roleNames() const
{
    auto roles = QAbstractItemModel::roleNames();
    roles.insert(FractionRole, "fraction");
    roles.insert(StateRole, "state");
    roles.insert(TaskIdRole, "taskId");
    roles.insert(IsFinalRole, "isFinal");
    roles.insert(ParentIdRole, "parentId");
    return roles;
}

TaskHandleBase TaskModel::task(int row) const
{
    if (row < 0 || row >= int(d->root.children.size()))
        return {};
    return d->root.children[size_t(row)]->task;
}

TaskHandleBase TaskModel::task(const QModelIndex &index) const
{
    const Node *n = d->nodeAt(index);
    return n ? n->task : TaskHandleBase();
}

int TaskModel::rowOf(quint64 taskId) const
{
    auto it = d->nodes.find(taskId);
    if (it == d->nodes.end() || it->second->parent != &d->root)
        return -1;
    return it->second->row;
}

QModelIndex TaskModel::indexOf(quint64 taskId, int column) const
{
    auto it = d->nodes.find(taskId);
    if (it == d->nodes.end() || column < 0 || column >= ColumnCount)
        return {};
    return d->indexOf(it->second.get(), column);
}

int TaskModel::maxFinished() const
{
    return d->maxFinished;
}

void TaskModel::setMaxFinished(int count)
{
    d->maxFinished = std::max(0, count);
    d->trim(size_t(d->maxFinished));
}

std::chrono::milliseconds TaskModel::updateInterval() const
{
    return d->interval;
}

void TaskModel::setUpdateInterval(std::chrono::milliseconds interval)
{
    d->interval = std::max(interval, std::chrono::milliseconds(1));
    d->timer.start(
        int(std::min<qint64>(d->interval.count(), std::numeric_limits<int>::max())), this);
}

// Changed rows are announced per run of adjacent rows, not as one span per parent: a view
// then repaints what changed on screen and skips the rest without measuring thousands of rows.
void TaskModel::Private::emitRows(std::vector<Node *> &changed)
{
    std::sort(changed.begin(), changed.end(), [](const Node *a, const Node *b) {
        return a->parent != b->parent ? a->parent < b->parent : a->row < b->row;
    });
    for (size_t i = 0; i < changed.size();) {
        size_t j = i;
        int first = changed[i]->changedFirst, last = changed[i]->changedLast;
        while (j + 1 < changed.size() && changed[j + 1]->parent == changed[i]->parent
            && changed[j + 1]->row <= changed[j]->row + 1) {
            ++j;
            first = std::min(first, changed[j]->changedFirst);
            last = std::max(last, changed[j]->changedLast);
        }
        const QModelIndex p = indexOf(changed[i]->parent);
        Q_EMIT q->dataChanged(
            q->index(changed[i]->row, first, p), q->index(changed[j]->row, last, p));
        i = j + 1;
    }
}

bool TaskModel::Private::applyPending(std::chrono::microseconds budget)
{
    const auto start = std::chrono::steady_clock::now();
    std::vector<Node *> changed;
    std::vector<Node *> reparented;
    size_t i = pendingAt;
    for (; i < pending.size(); ++i) {
        if (budget.count() > 0 && (i - pendingAt) % 4 == 3
            && std::chrono::steady_clock::now() - start > budget)
            break;
        auto it = nodes.find(pending[i].id());
        if (it == nodes.end())
            continue; // trimmed meanwhile
        Node *n = it->second.get();
        const bool wasFinal = isFinalState(n->state);
        const quint64 oldParent = n->declaredParent;
        const TaskState oldState = n->state;
        const offload::Progress oldProgress = n->progress;
        const ProcessInfo oldProcess = n->process;
        const QString oldName = n->name, oldError = n->error;
        n->snapshot();
        // Only the cells that look different are announced, so that a view repaints a
        // progress bar rather than the whole row.
        int first = ColumnCount, last = -1;
        const auto mark = [&](Column a, Column b) {
            first = std::min(first, int(a));
            last = std::max(last, int(b));
        };
        if (n->name != oldName)
            mark(Column::Name, Column::Name);
        if (n->state != oldState)
            mark(Column::State, Column::Elapsed);
        if (n->progress.value != oldProgress.value || n->progress.minimum != oldProgress.minimum
            || n->progress.maximum != oldProgress.maximum)
            mark(Column::Progress, Column::Progress);
        if (!(n->progress.stage == oldProgress.stage))
            mark(Column::Stage, Column::Stage);
        if (n->progress.text != oldProgress.text)
            mark(Column::Text, Column::Text);
        if (!(n->process == oldProcess))
            mark(Column::Where, Column::Cpu);
        if (n->error != oldError || n->state != oldState)
            mark(Column::Error, Column::Error);
        if (n->declaredParent != oldParent)
            mark(Column::Name, Column::Error); // every column
        n->changedFirst = first;
        n->changedLast = last;
        const bool final = isFinalState(n->state);
        if (wasFinal != final)
            addUnfinished(n, final ? -1 : 1);
        if (n->declaredParent != oldParent)
            reparented.push_back(n);
        changed.push_back(n);
    }
    pendingAt = i;
    if (pendingAt >= pending.size()) {
        pending.clear();
        pendingAt = 0;
    }
    for (Node *n : reparented)
        place(n);
    // Moves may have renumbered rows: positions are read only now.
    std::erase_if(changed, [this](Node *n) { return !nodes.count(n->id) || n->changedLast < 0; });
    emitRows(changed);
    return pendingAt < pending.size() && !pending.empty();
}

// Running rows show whole seconds computed when painted (data()), so one dataChanged of the
// Elapsed column per parent with running rows each second keeps them current; a view
// repaints the visible ones. The parents are few; the top level is one span.
void TaskModel::Private::broadcastElapsed()
{
    lastElapsedBroadcast = std::chrono::steady_clock::now();
    Spans spans;
    if (finishedTop.size() < root.children.size())
        spans[&root] = { 0, int(root.children.size()) - 1 };
    for (Node *p : parents) {
        const int own = isFinalState(p->state) ? 0 : 1;
        if (p->unfinished > own)
            spans[p] = { 0, int(p->children.size()) - 1 };
    }
    emitChanged(spans, int(Column::Elapsed), int(Column::Elapsed), { Qt::DisplayRole });
}

// At most one batch of the registry's changes; true if the registry holds more.
bool TaskModel::Private::take(size_t maxChanged)
{
    auto changes = TaskRegistry::instance().takeChanges(listener, maxChanged);
    append(changes.added);
    pending.insert(pending.end(), std::make_move_iterator(changes.changed.begin()),
        std::make_move_iterator(changes.changed.end()));
    return changes.more;
}

void TaskModel::refresh()
{
    while (d->take(std::numeric_limits<size_t>::max())) { }
    d->registryHasMore = false;
    d->applyPending(std::chrono::microseconds(0));
    d->slice.stop();
    d->broadcastElapsed();
    d->trim(size_t(d->maxFinished));
}

void TaskModel::clearFinished()
{
    d->trim(0);
}

// Every event does one bounded piece of work (a batch taken from the registry, or a slice
// of it applied) and leaves the rest to a zero timer, so that the event loop runs in between
// and the GUI thread is never held for much longer than a slice.
void TaskModel::timerEvent(QTimerEvent *event)
{
    using namespace std::chrono;
    constexpr size_t batch = 512; // about 50 us to take
    const bool tick = event->timerId() == d->timer.timerId();
    if (!tick && event->timerId() != d->slice.timerId())
        return QAbstractItemModel::timerEvent(event);
    const auto now = steady_clock::now();
    // A slice's budget (announcing costs about as much again) follows what the event loop
    // spent elsewhere since the last slice: 60 us while the loop is idle, so that a ping
    // never waits long, and up to 1 ms while each pass repaints for milliseconds (a slow X
    // server, a filter proxy relaying every change), so that a burst is not applied one
    // repaint per 60 us of work.
    const auto gap = tick ? microseconds(0) : duration_cast<microseconds>(now - d->sliceEnded);
    const auto budget = std::clamp(gap, microseconds(60), microseconds(1000));
    const auto leave = [this] { d->sliceEnded = steady_clock::now(); };
    if (tick && now - d->lastElapsedBroadcast >= seconds(1))
        d->broadcastElapsed();
    if (d->pendingAt >= d->pending.size() && (tick || d->registryHasMore)) {
        d->registryHasMore = d->take(batch);
        if (!d->slice.isActive())
            d->slice.start(0, this);
        return leave();
    }
    if (d->applyPending(budget) || d->registryHasMore) {
        if (!d->slice.isActive())
            d->slice.start(0, this);
        return leave();
    }
    d->slice.stop();
    d->trim(size_t(d->maxFinished));
}

} // namespace offload
