#include <offload/widgets/tasktreeview.h>

#include <QHeaderView>

namespace offload {

TaskTreeView::TaskTreeView(QWidget *parent) : QTreeView(parent)
{
    setUniformRowHeights(true);
}

void TaskTreeView::dataChanged(
    const QModelIndex &topLeft, const QModelIndex &bottomRight, const QList<int> &roles)
{
    const QModelIndex parent = topLeft.parent();
    if (!topLeft.isValid() || !bottomRight.isValid() || parent != bottomRight.parent()) {
        QTreeView::dataChanged(topLeft, bottomRight, roles);
        return;
    }
    if (parent.isValid() && !isExpanded(parent))
        return; // collapsed children are not on screen
    const QRect area = viewport()->rect();
    const QModelIndex top = indexAt(QPoint(0, area.top()));
    if (!top.isValid()) { // an empty view, or nothing at its top
        viewport()->update();
        return;
    }
    const QModelIndex bottom = indexAt(QPoint(0, area.bottom()));
    // Only when the screen shows rows of this parent can its rows be compared by number;
    // otherwise (a range under another parent, a screen spanning levels) ask Qt, which is
    // cheap for the short ranges that reach it in practice.
    if (top.parent() != parent || (bottom.isValid() && bottom.parent() != parent)) {
        QTreeView::dataChanged(topLeft, bottomRight, roles);
        return;
    }
    const int first = std::max(topLeft.row(), top.row());
    const int last
        = std::min(bottomRight.row(), bottom.isValid() ? bottom.row() : bottomRight.row());
    if (first > last)
        return;
    const QAbstractItemModel *m = model();
    const QRect a = visualRect(m->index(first, 0, parent));
    const QRect b = visualRect(m->index(last, 0, parent));
    int left = 0, right = area.right();
    if (topLeft.column() == bottomRight.column()) { // one column (a clock): just its cells
        left = header()->sectionViewportPosition(topLeft.column());
        right = left + header()->sectionSize(topLeft.column()) - 1;
    }
    viewport()->update(QRect(
        QPoint(std::max(0, left), a.top()), QPoint(std::min(area.right(), right), b.bottom())));
}

} // namespace offload
