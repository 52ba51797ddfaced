// Private to TaskModel (taskmodel.cpp: the model's API and its updates; taskmodeltree.cpp: the
// tree of rows): one node per row, and the model's state. GUI (or owning) thread only.
#pragma once

#include <offload/monitor/taskmodel.h>

#include <QBasicTimer>

#include <chrono>
#include <map>
#include <memory>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace offload {

namespace detail {

// One row. A QModelIndex carries its parent row's task id as internalId() (0: top level), so
// an index that outlived its row finds no node (or another row) instead of freed memory.
// Task ids are unique for the process's lifetime; on a 32-bit platform the id is truncated
// to quintptr, which after 2^32 tasks could alias two rows but never reads freed memory.
struct TaskModelNode
{
    TaskHandleBase task;
    quint64 id = 0;
    quint64 declaredParent = 0; // task.parentId() at the last snapshot
    TaskModelNode *parent = nullptr; // the row's parent row; the root for top-level rows
    std::vector<TaskModelNode *> children; // in order of arrival
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
        auto s = task.snapshot();
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
using TaskModelSpans = std::unordered_map<TaskModelNode *, std::pair<int, int>>;

} // namespace detail

struct TaskModel::Private
{
    using Node = detail::TaskModelNode;
    using Spans = detail::TaskModelSpans;

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

} // namespace offload
