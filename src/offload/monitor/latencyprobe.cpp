#include <offload/monitor/latencyprobe.h>

#include <QCoreApplication>
#include <QEvent>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

namespace offload {

using Clock = std::chrono::steady_clock;

namespace {
int pingEventType()
{
    static const int type = QEvent::registerEventType();
    return type;
}
} // namespace

struct LatencyProbe::Private
{
    // Send stamps travel through this mutex-guarded FIFO, not inside the event: posted events
    // to one receiver are delivered in order, so the oldest stamp belongs to the next ping.
    std::mutex mutex;
    std::condition_variable cv;
    std::deque<Clock::time_point> sent;
    bool stopping = false;
    std::thread thread;
    std::vector<double> samples;
};

LatencyProbe::LatencyProbe(QObject *parent) : QObject(parent), d(std::make_unique<Private>()) { }

LatencyProbe::~LatencyProbe()
{
    stop();
}

void LatencyProbe::start(std::chrono::microseconds interval)
{
    stop();
    reset();
    d->stopping = false;
    d->thread = std::thread([this, interval] {
        auto next = Clock::now();
        std::unique_lock lock(d->mutex);
        while (!d->stopping) {
            next += interval;
            if (d->cv.wait_until(lock, next, [this] { return d->stopping; }))
                break;
            d->sent.push_back(Clock::now());
            // Normal priority: the ping waits behind whatever else the loop has to do.
            QCoreApplication::postEvent(this, new QEvent(QEvent::Type(pingEventType())));
        }
    });
}

void LatencyProbe::stop()
{
    if (!d->thread.joinable())
        return;
    {
        std::lock_guard lock(d->mutex);
        d->stopping = true;
    }
    d->cv.notify_all();
    d->thread.join();
    QCoreApplication::removePostedEvents(this, pingEventType());
    std::lock_guard lock(d->mutex);
    d->sent.clear();
}

bool LatencyProbe::isRunning() const
{
    return d->thread.joinable();
}

bool LatencyProbe::event(QEvent *e)
{
    if (e->type() != pingEventType())
        return QObject::event(e);
    const auto now = Clock::now();
    Clock::time_point sentAt;
    {
        std::lock_guard lock(d->mutex);
        if (d->sent.empty())
            return true;
        sentAt = d->sent.front();
        d->sent.pop_front();
    }
    const double us = std::chrono::duration<double, std::micro>(now - sentAt).count();
    d->samples.push_back(us);
    Q_EMIT sampled(us);
    return true;
}

LatencyProbe::Stats LatencyProbe::stats() const
{
    return latencyStats(d->samples);
}

std::vector<double> LatencyProbe::samplesUs() const
{
    return d->samples;
}

void LatencyProbe::reset()
{
    d->samples.clear();
}

LatencyProbe::Stats latencyStats(std::vector<double> samples)
{
    LatencyProbe::Stats s;
    if (samples.empty())
        return s;
    std::sort(samples.begin(), samples.end());
    const auto at = [&](double q) {
        return samples[std::min(samples.size() - 1, size_t(q * double(samples.size() - 1) + 0.5))];
    };
    s.count = qint64(samples.size());
    s.p50us = at(0.50);
    s.p99us = at(0.99);
    s.maxus = samples.back();
    return s;
}

} // namespace offload
