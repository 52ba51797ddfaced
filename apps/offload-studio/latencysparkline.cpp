#include "latencysparkline.h"

#include <QPainter>
#include <QPainterPath>
#include <QTimerEvent>

#include <cmath>

namespace studio {

LatencySparkline::LatencySparkline(offload::LatencyProbe *probe, QWidget *parent) : QWidget(parent)
{
    connect(probe, &offload::LatencyProbe::sampled, this, &LatencySparkline::add);
    m_tick.start(1000, this);
    setToolTip(tr("GUI event-loop lag: each second's worst, last minute"));
}

// 1 µs .. ~13 s over 192 buckets of 2^(1/8) each.
int LatencySparkline::bucketOf(double us)
{
    if (!(us > 1.0))
        return 0;
    return std::min(buckets - 1, int(std::log2(us) * 8.0) + 1);
}

double LatencySparkline::upperBound(int bucket)
{
    return std::exp2(double(bucket) / 8.0);
}

void LatencySparkline::add(double us)
{
    Second &s = m_seconds[size_t(m_current)];
    ++s.counts[size_t(bucketOf(us))];
    ++s.total;
    s.max = std::max(s.max, us);
}

double LatencySparkline::p99us() const
{
    quint64 total = 0;
    for (const Second &s : m_seconds)
        total += s.total;
    if (total == 0)
        return 0;
    const quint64 rank = total - total / 100; // the sample at 99%
    quint64 seen = 0;
    for (int b = 0; b < buckets; ++b) {
        for (const Second &s : m_seconds)
            seen += s.counts[size_t(b)];
        if (seen >= rank)
            return upperBound(b);
    }
    return upperBound(buckets - 1);
}

double LatencySparkline::maxus() const
{
    double m = 0;
    for (const Second &s : m_seconds)
        m = std::max(m, s.max);
    return m;
}

void LatencySparkline::timerEvent(QTimerEvent *event)
{
    if (event->timerId() != m_tick.timerId())
        return QWidget::timerEvent(event);
    m_current = (m_current + 1) % seconds;
    m_seconds[size_t(m_current)] = Second {};
    update();
}

QSize LatencySparkline::sizeHint() const
{
    return { fontMetrics().horizontalAdvance(QStringLiteral("GUI lag p99 00000 µs")) + 124,
        fontMetrics().height() + 4 };
}

static QString formatUs(double us)
{
    return us >= 10'000 ? QStringLiteral("%1 ms").arg(us / 1000.0, 0, 'f', 0)
                        : QStringLiteral("%1 µs").arg(qRound(us));
}

void LatencySparkline::paintEvent(QPaintEvent *)
{
    QPainter p(this);
    p.setRenderHint(QPainter::Antialiasing);
    const QString label = tr("GUI lag p99 %1").arg(formatUs(p99us()));
    const int textWidth = fontMetrics().horizontalAdvance(label) + 8;
    const QRectF graph(1, 2, std::max(20, width() - textWidth - 2), height() - 4);
    p.fillRect(graph, palette().base());
    // Log scale from 10 µs to 100 ms: the healthy range and a frozen window both stay visible.
    const auto y = [&](double us) {
        const double f = (std::log10(std::clamp(us, 10.0, 100'000.0)) - 1.0) / 4.0;
        return graph.bottom() - f * graph.height();
    };
    p.setPen(QPen(palette().mid().color(), 1, Qt::DotLine));
    p.drawLine(QPointF(graph.left(), y(1000)), QPointF(graph.right(), y(1000))); // 1 ms
    QPainterPath path;
    for (int i = 0; i < seconds; ++i) {
        // Oldest on the left; the current (partial) second is last.
        const Second &s = m_seconds[size_t((m_current + 1 + i) % seconds)];
        const QPointF pt(
            graph.left() + graph.width() * i / (seconds - 1), y(s.total ? s.max : 10.0));
        i == 0 ? path.moveTo(pt) : path.lineTo(pt);
    }
    const double worst = maxus();
    p.setPen(QPen(worst > 10'000 ? QColor(200, 40, 40)
            : worst > 1000       ? QColor(200, 140, 0)
                                 : QColor(40, 140, 60),
        1.5));
    p.drawPath(path);
    p.setPen(palette().text().color());
    p.drawText(
        QRectF(graph.right() + 6, 0, textWidth, height()), Qt::AlignVCenter | Qt::AlignLeft, label);
}

} // namespace studio
