// LatencySparkline: the GUI event loop's lag over the last minute, drawn in the status bar;
// GUI thread only.
#pragma once

#include <offload/monitor/latencyprobe.h>

#include <QBasicTimer>
#include <QWidget>

#include <array>

namespace studio {

// Feeds on a LatencyProbe's samples (it does not own the probe). Each second's samples are
// kept as a histogram (buckets 9% wide), so the minute's p99 costs a few hundred additions a
// second however many samples arrive; the line shows each second's worst lag.
class LatencySparkline : public QWidget
{
    Q_OBJECT
public:
    explicit LatencySparkline(offload::LatencyProbe *probe, QWidget *parent = nullptr);

    double p99us() const; // over the last minute; 0 before any sample
    double maxus() const;
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent *event) override;
    void timerEvent(QTimerEvent *event) override;

private:
    static constexpr int seconds = 60, buckets = 192;
    struct Second
    {
        std::array<quint32, buckets> counts {};
        quint32 total = 0;
        double max = 0;
    };
    void add(double us);
    static int bucketOf(double us);
    static double upperBound(int bucket);

    std::array<Second, seconds> m_seconds {};
    int m_current = 0;
    QBasicTimer m_tick;
};

} // namespace studio
