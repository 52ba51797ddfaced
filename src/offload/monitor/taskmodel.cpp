#include <offload/monitor/taskmodel.h>

#include <offload/core/taskregistry.h>

#include <QTimerEvent>

#include <algorithm>
#include <limits>
#include <map>
#include <unordered_map>
#include <unordered_set>

namespace offload {

namespace {

// One row. A QModelIndex carries its parent row's task id as internalId() (0: top level), so
// an index that outlived its row finds no node (or another row) instead of freed memory.
// Task ids are unique for the process's lifetime; on a 32-bit platform the id is truncated
// to quintptr, which after 2^32 tasks could alias two rows but never reads freed memory.
struct Node
{
    TaskHandleBase task;
    quint64 id = 0;
    quint64 declaredParent = 0; // task.parentId() at the last snapshot
    Node *parent = nullptr; // the row's parent row; the root for top-level rows
    std::vector<Node *> children; // in order of arrival
    int row = 0; // position in parent->children, kept exact at every change
    int unfinished = 0; // non-final tasks in this subtree, this one included
    quint64 topOrder = 0; // top-level rows only: order of arrival at the top level
    quint64 waitingFor = 0; // listed in Private::orphans under this id (0: not listed)
    int changedFirst = 0, changedLast = -1; // the columns the last snapshot changed

    TaskState state = TaskState::Queued;
    offload::Progress progress;
    QString name;
    QString error;
    std::chrono::milliseconds elapsed { 0 };
    ProcessInfo process;

    void snapshot()
    {
        auto s = task.core()->monitorSnapshot();
        state = s.state;
        process = s.process;
        progress = std::move(s.progress);
        name = std::move(s.name);
        elapsed = s.times.elapsed();
        declaredParent = s.parentId;
        if (state == TaskState::Failed)
            error = std::move(s.errorSummary);
    }
};

// Rows of one parent that changed in a tick: one dataChanged over [lo, hi] per parent.
using Spans = std::unordered_map<Node *, std::pair<int, int>>;

} // namespace

struct TaskModel::Private
{
    TaskModel *q = nullptr;
    int listener = 0;
    Node root; // id 0, never shown: its children are the top-level rows
    std::unordered_map<quint64, std::unique_ptr<Node>> nodes; // every row, by task id
    // Rows that have children, so that the clock's broadcast need not visit every row.
    std::unordered_set<Node *> parents;
    // Finished top-level rows by topOrder, i.e. in row order: trimming takes the first ones.
    std::map<quint64, Node *> finishedTop;
    // Top-level rows whose declared parent is not (or cannot be) their parent row, by that
    // parent's id: a parent arriving after its children adopts them.
    std::unordered_map<quint64, std::unordered_set<Node *>> orphans;
    quint64 nextTopOrder = 0;
    int maxFinished = 200;
    std::chrono::milliseconds interval { 100 };
    QBasicTimer timer;
    // A tick's changes are applied in slices of at most sliceBudget, with the event loop
    // running in between (slice), so that a burst of changes never holds the GUI thread for
    // longer than a slice; refresh() applies them all at once.
    std::vector<TaskHandleBase> pending;
    size_t pendingAt = 0;
    QBasicTimer slice;
    bool registryHasMore = false; // the last take() left changes in the registry
    std::chrono::steady_clock::time_point sliceEnded; // when the last piece of work returned
    std::chrono::steady_clock::time_point lastElapsedBroadcast;

    Node *nodeFor(quintptr key) const;
    Node *nodeAt(const QModelIndex &index) const;
    QModelIndex indexOf(const Node *n, int column = 0) const;

    void append(const std::vector<TaskHandleBase> &tasks);
    void insert(Node *parent, std::vector<std::unique_ptr<Node>> batch);
    void place(Node *n);
    void adoptOrphansOf(Node *parent);
    void move(Node *n, Node *to);
    void detach(Node *n);
    void attach(Node *n, Node *to);
    void addUnfinished(Node *from, int delta);
    void updateOrphan(Node *n);
    void renumber(Node *parent, int from);
    void trim(size_t keep);
    void removeTopRows(int first, int last);
    void forget(Node *n, std::vector<std::unique_ptr<Node>> &out);
    void emitChanged(const Spans &spans, int firstColumn, int lastColumn, const QList<int> &roles);
    bool applyPending(std::chrono::microseconds budget); // true if work is left
    bool take(size_t maxChanged);
    void emitRows(std::vector<Node *> &changed);
    void broadcastElapsed();
};

Node *TaskModel::Private::nodeFor(quintptr key) const
{
    if (key == 0)
        return const_cast<Node *>(&root);
    auto it = nodes.find(quint64(key));
    return it == nodes.end() ? nullptr : it->second.get();
}

Node *TaskModel::Private::nodeAt(const QModelIndex &index) const
{
    if (!index.isValid() || index.model() != q || index.column() >= ColumnCount)
        return nullptr;
    Node *parent = nodeFor(index.internalId());
    if (!parent || index.row() >= int(parent->children.size()))
        return nullptr;
    return parent->children[size_t(index.row())];
}

QModelIndex TaskModel::Private::indexOf(const Node *n, int column) const
{
    if (n == &root)
        return {};
    return q->createIndex(n->row, column, quintptr(n->parent->id));
}

// Keeps the counts that say which top-level rows are finished: `delta` non-final tasks more
// (or fewer) below `from` and in it. O(depth).
void TaskModel::Private::addUnfinished(Node *from, int delta)
{
    if (delta == 0)
        return;
    for (Node *p = from; p != &root; p = p->parent) {
        const bool wasFinished = p->unfinished == 0;
        p->unfinished += delta;
        if (p->parent == &root && wasFinished != (p->unfinished == 0)) {
            if (wasFinished)
                finishedTop.erase(p->topOrder);
            else
                finishedTop.emplace(p->topOrder, p);
        }
    }
}

void TaskModel::Private::updateOrphan(Node *n)
{
    const quint64 want
        = n->declaredParent != 0 && n->parent->id != n->declaredParent ? n->declaredParent : 0;
    if (want == n->waitingFor)
        return;
    if (n->waitingFor != 0) {
        auto it = orphans.find(n->waitingFor);
        it->second.erase(n);
        if (it->second.empty())
            orphans.erase(it);
    }
    n->waitingFor = want;
    if (want != 0)
        orphans[want].insert(n);
}

void TaskModel::Private::renumber(Node *parent, int from)
{
    for (size_t i = size_t(from); i < parent->children.size(); ++i)
        parent->children[i]->row = int(i);
}

// Rows are appended to their parent in the order the registry listed them. Rows of one parent
// go in one beginInsertRows; a parent in the same batch was listed (and so is inserted)
// before its children.
void TaskModel::Private::append(const std::vector<TaskHandleBase> &tasks)
{
    std::unordered_map<quint64, Node *> pending; // this batch, not inserted yet
    std::vector<std::pair<Node *, std::vector<std::unique_ptr<Node>>>> groups;
    std::unordered_map<Node *, size_t> groupOf;
    std::vector<Node *> fresh;
    for (const auto &t : tasks) {
        const quint64 id = t.id();
        if (nodes.count(id) || pending.count(id))
            continue;
        auto n = std::make_unique<Node>();
        n->task = t;
        n->id = id;
        n->snapshot();
        // A new row has no children yet, so it cannot close a cycle.
        Node *parent = &root;
        if (n->declaredParent != 0) {
            if (auto it = nodes.find(n->declaredParent); it != nodes.end())
                parent = it->second.get();
            else if (auto p = pending.find(n->declaredParent); p != pending.end())
                parent = p->second;
        }
        pending.emplace(id, n.get());
        fresh.push_back(n.get());
        auto [g, isNew] = groupOf.try_emplace(parent, groups.size());
        if (isNew)
            groups.emplace_back(parent, std::vector<std::unique_ptr<Node>> {});
        groups[g->second].second.push_back(std::move(n));
    }
    for (auto &[parent, batch] : groups)
        insert(parent, std::move(batch));
    for (Node *n : fresh)
        adoptOrphansOf(n);
}

void TaskModel::Private::insert(Node *parent, std::vector<std::unique_ptr<Node>> batch)
{
    const int first = int(parent->children.size());
    q->beginInsertRows(indexOf(parent), first, first + int(batch.size()) - 1);
    if (parent != &root)
        parents.insert(parent);
    int unfinished = 0;
    for (auto &owned : batch) {
        Node *n = owned.get();
        nodes.emplace(n->id, std::move(owned));
        n->unfinished = isFinalState(n->state) ? 0 : 1;
        n->parent = parent;
        n->row = int(parent->children.size());
        parent->children.push_back(n);
        if (parent == &root) {
            n->topOrder = ++nextTopOrder;
            if (n->unfinished == 0)
                finishedTop.emplace(n->topOrder, n);
        }
        unfinished += n->unfinished;
        updateOrphan(n);
    }
    addUnfinished(parent, unfinished);
    q->endInsertRows();
}

// Moves a row whose declared parent changed to where that parent says, if it can.
void TaskModel::Private::place(Node *n)
{
    Node *to = &root;
    if (auto it = nodes.find(n->declaredParent); n->declaredParent != 0 && it != nodes.end()) {
        to = it->second.get();
        for (Node *p = to; p != &root; p = p->parent) {
            if (p == n) {
                to = &root; // the new parent is below this row: a cycle
                break;
            }
        }
    }
    if (to != n->parent)
        move(n, to);
    else
        updateOrphan(n);
    // Rows waiting for this one were kept top-level if it was below them (a cycle) until now.
    adoptOrphansOf(n);
}

void TaskModel::Private::adoptOrphansOf(Node *parent)
{
    auto it = orphans.find(parent->id);
    if (it == orphans.end())
        return;
    std::vector<Node *> waiting(it->second.begin(), it->second.end());
    // Children in the order they arrived, whatever the hash set's order.
    std::sort(waiting.begin(), waiting.end(),
        [](const Node *a, const Node *b) { return a->topOrder < b->topOrder; });
    for (Node *n : waiting) {
        bool cycle = false;
        for (Node *p = parent; p != &root && !cycle; p = p->parent)
            cycle = p == n;
        if (!cycle && n->parent != parent)
            move(n, parent);
    }
}

void TaskModel::Private::move(Node *n, Node *to)
{
    // Cannot fail: `to` is neither n nor below it, and n changes parent.
    if (!q->beginMoveRows(
            indexOf(n->parent), n->row, n->row, indexOf(to), int(to->children.size())))
        return;
    detach(n);
    attach(n, to);
    q->endMoveRows();
}

void TaskModel::Private::detach(Node *n)
{
    Node *from = n->parent;
    from->children.erase(from->children.begin() + n->row);
    if (from->children.empty())
        parents.erase(from);
    renumber(from, n->row);
    if (from == &root)
        finishedTop.erase(n->topOrder);
    addUnfinished(from, -n->unfinished);
}

void TaskModel::Private::attach(Node *n, Node *to)
{
    n->parent = to;
    n->row = int(to->children.size());
    to->children.push_back(n);
    if (to != &root)
        parents.insert(to);
    if (to == &root) {
        n->topOrder = ++nextTopOrder;
        if (n->unfinished == 0)
            finishedTop.emplace(n->topOrder, n);
    }
    addUnfinished(to, n->unfinished);
    updateOrphan(n);
}

// Removes the oldest finished top-level rows beyond `keep`, one contiguous block of rows at a
// time, the last block first so that the rows of the others stay put.
void TaskModel::Private::trim(size_t keep)
{
    if (finishedTop.size() <= keep)
        return;
    std::vector<int> rows;
    size_t excess = finishedTop.size() - keep;
    for (auto it = finishedTop.begin(); excess > 0; ++it, --excess)
        rows.push_back(it->second->row); // ascending: topOrder is row order
    size_t end = rows.size();
    while (end > 0) {
        size_t begin = end - 1;
        while (begin > 0 && rows[begin - 1] == rows[begin] - 1)
            --begin;
        removeTopRows(rows[begin], rows[end - 1]);
        end = begin;
    }
}

void TaskModel::Private::removeTopRows(int first, int last)
{
    std::vector<std::unique_ptr<Node>> gone; // freed after the signals
    q->beginRemoveRows({}, first, last);
    for (int i = first; i <= last; ++i) {
        Node *n = root.children[size_t(i)];
        finishedTop.erase(n->topOrder);
        forget(n, gone);
    }
    root.children.erase(root.children.begin() + first, root.children.begin() + last + 1);
    renumber(&root, first);
    q->endRemoveRows();
}

void TaskModel::Private::forget(Node *n, std::vector<std::unique_ptr<Node>> &out)
{
    for (Node *child : n->children)
        forget(child, out);
    parents.erase(n);
    n->declaredParent = 0;
    updateOrphan(n); // unlisted
    auto it = nodes.find(n->id);
    out.push_back(std::move(it->second));
    nodes.erase(it);
}

void TaskModel::Private::emitChanged(
    const Spans &spans, int firstColumn, int lastColumn, const QList<int> &roles)
{
    for (const auto &[parent, span] : spans) {
        const QModelIndex p = indexOf(parent);
        Q_EMIT q->dataChanged(
            q->index(span.first, firstColumn, p), q->index(span.second, lastColumn, p), roles);
    }
}

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
        "Elapsed", "PID", "Memory", "CPU", "Error" };
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
            mark(Column::Pid, Column::Cpu);
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
