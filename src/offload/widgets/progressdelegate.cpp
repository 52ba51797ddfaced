#include <offload/widgets/progressdelegate.h>

#include <offload/monitor/taskmodel.h>

#include <QApplication>
#include <QPainter>

#include <algorithm>

namespace offload {

// Drawn flat with the palette rather than through the style's CE_ProgressBar: a monitor
// repaints dozens of these several times a second, and the styled bar (gradients, rounded
// outlines) cost most of a repaint.
void ProgressDelegate::paint(
    QPainter *painter, const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    const double fraction = index.data(TaskModel::FractionRole).toDouble();
    const auto state = TaskState(index.data(TaskModel::StateRole).toInt());
    double filled = 0; // of the bar, 0..1
    QString text;
    if (state == TaskState::Finished) {
        filled = 1;
        text = QStringLiteral("100%");
    } else if (fraction >= 0) { // false for NaN too
        filled = std::min(fraction, 1.0);
        text = QStringLiteral("%1%").arg(int(filled * 100.0));
    } else {
        text = stateName(state);
    }
    const QPalette &pal = option.palette;
    if (option.state & QStyle::State_Selected)
        painter->fillRect(option.rect, pal.highlight());
    const QRect bar = option.rect.adjusted(2, 1, -2, -1);
    if (bar.width() < 2 || bar.height() < 2)
        return;
    // A light track whatever the row's background (plain or alternate), no outline: the
    // text may then be taller than the bar without crossing a line.
    QColor track = pal.color(QPalette::Mid);
    track.setAlpha(70);
    painter->fillRect(bar, track);
    const QRect done(bar.topLeft(), QSize(int(bar.width() * filled), bar.height()));
    // An ended run that did not finish keeps its bar, greyed, with dark text.
    const bool greyed = state == TaskState::Failed || state == TaskState::Cancelled;
    const QColor fill = pal.color(greyed ? QPalette::Mid : QPalette::Highlight);
    if (!done.isEmpty())
        painter->fillRect(done, fill);
    // The text in the text colour over the track and in the highlighted text colour over the
    // filled part.
    painter->setPen(pal.color(QPalette::Text));
    painter->drawText(option.rect, Qt::AlignCenter, text);
    if (!done.isEmpty()) {
        painter->save();
        painter->setClipRect(done, Qt::IntersectClip);
        painter->setPen(pal.color(greyed ? QPalette::Text : QPalette::HighlightedText));
        painter->drawText(option.rect, Qt::AlignCenter, text);
        painter->restore();
    }
}

QSize ProgressDelegate::sizeHint(const QStyleOptionViewItem &option, const QModelIndex &index) const
{
    QSize s = QStyledItemDelegate::sizeHint(option, index);
    return { std::max(s.width(), 120), s.height() };
}

} // namespace offload
