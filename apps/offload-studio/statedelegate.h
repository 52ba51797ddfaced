// StateDelegate: paints the monitor's State column as an icon and the state, with a cancel
// button on every task that has not ended; GUI thread only.
#pragma once

#include <QIcon>
#include <QStyledItemDelegate>

QT_BEGIN_NAMESPACE
class QAbstractProxyModel;
QT_END_NAMESPACE

namespace offload {
class TaskModel;
}

namespace studio {

// Paints straight from the model's roles (no widgets per row), so that 10,000 rows cost what
// the visible ones cost. Does not own the models.
class StateDelegate : public QStyledItemDelegate
{
    Q_OBJECT
public:
    StateDelegate(offload::TaskModel *model, QAbstractProxyModel *proxy, QObject *parent);

    void paint(QPainter *painter, const QStyleOptionViewItem &option,
        const QModelIndex &index) const override;
    bool editorEvent(QEvent *event, QAbstractItemModel *model, const QStyleOptionViewItem &option,
        const QModelIndex &index) override;
    // Where the cancel button is drawn in a cell.
    static QRect cancelRect(const QRect &cell);

private:
    offload::TaskModel *m_model;
    QAbstractProxyModel *m_proxy;
    QIcon m_icons[5];
    QIcon m_cancel;
};

} // namespace studio
