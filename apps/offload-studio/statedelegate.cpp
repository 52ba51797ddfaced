#include "statedelegate.h"

#include <offload/monitor/taskmodel.h>

#include <QAbstractProxyModel>
#include <QApplication>
#include <QMouseEvent>
#include <QPainter>
#include <QStyle>

namespace studio {

using offload::TaskState;

StateDelegate::StateDelegate(offload::TaskModel *model, QAbstractProxyModel *proxy, QObject *parent)
    : QStyledItemDelegate(parent), m_model(model), m_proxy(proxy)
{
    QStyle *s = QApplication::style();
    // Indexed by int(TaskState): Queued, Starting, Running, Finished, Failed, Cancelled.
    m_icons[0] = s->standardIcon(QStyle::SP_MediaPause);
    m_icons[1] = s->standardIcon(QStyle::SP_MediaPlay);
    m_icons[2] = s->standardIcon(QStyle::SP_DialogApplyButton);
    m_icons[3] = s->standardIcon(QStyle::SP_MessageBoxCritical);
    m_icons[4] = s->standardIcon(QStyle::SP_BrowserStop);
    m_cancel = s->standardIcon(QStyle::SP_DialogCloseButton);
}

static int iconIndex(TaskState s)
{
    switch (s) {
    case TaskState::Queued:
        return 0;
    case TaskState::Starting:
    case TaskState::Running:
        return 1;
    case TaskState::Finished:
        return 2;
    case TaskState::Failed:
        return 3;
    case TaskState::Cancelled:
        return 4;
    }
    return 0;
}

QRect StateDelegate::cancelRect(const QRect &cell)
{
    const int side = std::min(cell.height() - 2, 16);
    return { cell.right() - side - 2, cell.top() + (cell.height() - side) / 2, side, side };
}

void StateDelegate::paint(
    QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QStyleOptionViewItem opt = option;
    initStyleOption(&opt, index);
    const auto state = TaskState(index.data(offload::TaskModel::StateRole).toInt());
    opt.icon = m_icons[iconIndex(state)];
    opt.features |= QStyleOptionViewItem::HasDecoration;
    opt.decorationSize = QSize(16, 16);
    const bool cancellable = !offload::isFinalState(state);
    if (cancellable)
        opt.rect.setRight(
            cancelRect(option.rect).left() - 2); // the text must not run under the button
    QStyle *style = opt.widget ? opt.widget->style() : QApplication::style();
    QStyleOptionViewItem background
        = option; // selection and alternate colours under the button too
    background.text.clear();
    background.icon = {};
    background.features &= ~QStyleOptionViewItem::HasDecoration;
    style->drawControl(QStyle::CE_ItemViewItem, &background, painter, opt.widget);
    style->drawControl(QStyle::CE_ItemViewItem, &opt, painter, opt.widget);
    if (cancellable) {
        const bool hover = (option.state & QStyle::State_MouseOver);
        m_cancel.paint(painter, cancelRect(option.rect), Qt::AlignCenter,
            hover ? QIcon::Active : QIcon::Normal);
    }
}

bool StateDelegate::editorEvent(QEvent *event, QAbstractItemModel *model,
    const QStyleOptionViewItem &option, const QModelIndex &index)
{
    if (event->type() == QEvent::MouseButtonRelease) {
        auto *me = static_cast<QMouseEvent *>(event);
        const auto state = TaskState(index.data(offload::TaskModel::StateRole).toInt());
        if (me->button() == Qt::LeftButton && !offload::isFinalState(state)
            && cancelRect(option.rect).contains(me->position().toPoint())) {
            QModelIndex source = index;
            if (model == m_proxy)
                source = m_proxy->mapToSource(index);
            const auto task = m_model->task(source);
            if (task.isValid())
                task.cancel();
            return true;
        }
    }
    return QStyledItemDelegate::editorEvent(event, model, option, index);
}

} // namespace studio
