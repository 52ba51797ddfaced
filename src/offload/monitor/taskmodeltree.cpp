// TaskModel's tree of rows: finding, inserting, moving, adopting, trimming and forgetting rows,
// with the model's signals for each (taskmodel_p.h).
#include "taskmodel_p.h"

#include <algorithm>

namespace offload {

using Node = detail::TaskModelNode;
using Spans = detail::TaskModelSpans;

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

} // namespace offload
