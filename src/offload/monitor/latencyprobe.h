// LatencyProbe: measures how quickly a thread's event loop (the GUI's) answers posted events.
#pragma once

#include <offload/monitor/export.h>

#include <QObject>

#include <chrono>
#include <memory>
#include <vector>

namespace offload {

// A helper thread posts a ping to the probed thread every interval (1 ms by default),
// timestamped at send; the delay until the loop handles it is one sample. This sees stalls
// shorter than any timer period (docs/benchmarks.md, "How Offload measures itself").
// Thread-safety: create, start, stop and read on the probed thread (the object's thread).
class OFFLOAD_MONITOR_EXPORT LatencyProbe : public QObject
{
    Q_OBJECT
public:
    struct Stats
    {
        qint64 count = 0;
        double p50us = 0, p99us = 0, maxus = 0;
    };

    explicit LatencyProbe(QObject *parent = nullptr);
    ~LatencyProbe() override;

    void start(std::chrono::microseconds interval = std::chrono::milliseconds(1));
    void stop();
    bool isRunning() const;

    // Statistics of the samples since the last reset (or start).
    Stats stats() const;
    std::vector<double> samplesUs() const;
    void reset();

Q_SIGNALS:
    void sampled(double latencyUs); // every handled ping

protected:
    bool event(QEvent *e) override;

private:
    struct Private;
    std::unique_ptr<Private> d;
};

// p50/p99/max of samples (microseconds); sorts a copy.
OFFLOAD_MONITOR_EXPORT LatencyProbe::Stats latencyStats(std::vector<double> samples);

} // namespace offload
