// TaskTreeView: a QTreeView for TaskModel that repaints only the changed rows on screen;
// GUI thread only.
#pragma once

#include <offload/widgets/export.h>

#include <QTreeView>

namespace offload {

// QTreeView measures every row of a dataChanged range, so a monitor whose model announces
// changes over thousands of rows ten times a second would spend its time there. This view
// intersects each range with the rows on screen (O(1) with uniform row heights, which it
// sets) and repaints just that strip; ranges off screen cost nothing. Works with any model
// (a proxy included). Owned by its parent widget, as any view.
class OFFLOAD_WIDGETS_EXPORT TaskTreeView : public QTreeView
{
    Q_OBJECT
public:
    explicit TaskTreeView(QWidget *parent = nullptr);

protected:
    void dataChanged(const QModelIndex &topLeft, const QModelIndex &bottomRight,
        const QList<int> &roles = QList<int>()) override;
};

} // namespace offload
