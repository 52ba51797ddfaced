#include <offload/widgets/progressdelegate.h>

#include <offload/monitor/taskmodel.h>

#include <QApplication>
#include <QPainter>
#include <QStyleOptionProgressBar>

namespace offload {

void ProgressDelegate::paint(QPainter *painter, const QStyleOptionViewItem &option,
                             const QModelIndex &index) const
{
    const double fraction = index.data(TaskModel::FractionRole).toDouble();
    const auto state = TaskState(index.data(TaskModel::StateRole).toInt());
    QStyleOptionProgressBar bar;
    bar.rect = option.rect.adjusted(2, 2, -2, -2);
    bar.state = option.state | QStyle::State_Horizontal;
    bar.minimum = 0;
    bar.maximum = 1000;
    bar.textVisible = true;
    if (state == TaskState::Finished) {
        bar.progress = 1000;
        bar.text = QStringLiteral("100%");
    } else if (fraction >= 0) {
        bar.progress = int(fraction * 1000.0);
        bar.text = QStringLiteral("%1%").arg(int(fraction * 100.0));
    } else {
        bar.progress = 0;
        bar.text = stateName(state);
    }
    if (option.state & QStyle::State_Selected)
        painter->fillRect(option.rect, option.palette.highlight());
    const QWidget *widget = option.widget;
    QStyle *style = widget ? widget->style() : QApplication::style();
    style->drawControl(QStyle::CE_ProgressBar, &bar, painter, widget);
}

QSize ProgressDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QSize s = QStyledItemDelegate::sizeHint(option, index);
    return {std::max(s.width(), 120), s.height()};
}

} // namespace offload
