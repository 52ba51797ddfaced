// ProgressDelegate: paints TaskModel's Progress column as a progress bar; GUI thread only.
#pragma once

#include <offload/widgets/export.h>

#include <QStyledItemDelegate>

namespace offload {

// Reads TaskModel::FractionRole (-1: indeterminate, drawn as an empty busy bar with the
// state text). Owned by whoever owns it (usually the view, via parent).
class OFFLOAD_WIDGETS_EXPORT ProgressDelegate : public QStyledItemDelegate
{
    Q_OBJECT
public:
    using QStyledItemDelegate::QStyledItemDelegate;
    void paint(QPainter *painter, const QStyleOptionViewItem &option,
        const QModelIndex &index) const override;
    QSize sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const override;
};

} // namespace offload
