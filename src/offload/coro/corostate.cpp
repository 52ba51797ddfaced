// CoroState: resumption on the coroutine's thread, cancellation, unobserved failures.
#include <offload/coro/corostate.h>

#include <QCoreApplication>
#include <QEvent>
#include <QThread>
#include <QTimer>

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <vector>

namespace offload {

namespace {
std::mutex s_handlerMutex;
UnhandledErrorHandler s_handler;

void defaultHandler(const QString &name, const Error &error)
{
    qWarning("offload: coroutine '%s' failed and nobody awaited it: %s", qPrintable(name),
        qPrintable(error.summary()));
}
} // namespace

UnhandledErrorHandler setUnhandledErrorHandler(UnhandledErrorHandler handler)
{
    std::lock_guard lock(s_handlerMutex);
    return std::exchange(s_handler, std::move(handler));
}

namespace detail {

CoroState::CoroState(const TaskHandleBase &task, TaskControl control, QObject *context)
    : m_core(Access::core(task))
    , m_control(std::move(control))
    , m_context(context)
    , m_bound(context != nullptr)
{
    m_thread = context ? context->thread() : QThread::currentThread();
}

CoroState::~CoroState() = default;

void CoroState::start(std::coroutine_handle<> frame, const TaskPromiseBase &producer)
{
    m_frame = frame;
    producer.markStarting();
    producer.start();
    producer.setCancelHandler([weak = weak_from_this()] {
        if (auto self = weak.lock())
            self->onCancelRequested();
    });
}

namespace {
// One per thread that runs coroutines: functions posted to it run on that thread, even when
// posted before the thread's event loop has started (a thread's event dispatcher only exists
// once it runs), and it outlives every context object, so a cancel is still carried out after
// the context is gone. Released with deleteLater when its thread finishes.
//
// Why our own queue: Debian's Qt is not built with TSan, and a functor carried inside a Qt
// event crosses threads invisibly to it. The functions go through m_mutex; the posted QEvent
// carries no data and is only the wake-up (as core's delivery queue does).
class Anchor : public QObject
{
public:
    void post(std::function<void()> fn)
    {
        bool wake = false;
        {
            std::lock_guard lock(m_mutex);
            m_pending.push_back(std::move(fn));
            wake = !std::exchange(m_wakePosted, true);
        }
        if (wake)
            QCoreApplication::postEvent(this, new QEvent(wakeType()));
    }

protected:
    bool event(QEvent *e) override
    {
        if (e->type() != wakeType())
            return QObject::event(e);
        std::vector<std::function<void()>> batch;
        {
            std::lock_guard lock(m_mutex);
            batch.swap(m_pending);
            m_wakePosted = false;
        }
        for (auto &fn : batch)
            fn(); // may post again: that lands in m_pending and wakes us once more
        return true;
    }

private:
    static QEvent::Type wakeType()
    {
        static const auto type = QEvent::Type(QEvent::registerEventType());
        return type;
    }
    std::mutex m_mutex;
    std::vector<std::function<void()>> m_pending; // guarded by m_mutex
    bool m_wakePosted = false; // guarded by m_mutex
};

Anchor *anchorFor(QThread *thread)
{
    static std::mutex mutex;
    static std::unordered_map<QThread *, Anchor *> anchors;
    std::lock_guard lock(mutex);
    if (const auto it = anchors.find(thread); it != anchors.end()) {
        if (it->second->thread() == thread)
            return it->second;
        // Made for a thread that had finished already (so never released) whose QThread is
        // gone and whose address a new QThread reuses; nothing can run there any more.
        delete it->second;
        anchors.erase(it);
    }
    auto *anchor = new Anchor;
    anchor->moveToThread(thread);
    anchors.emplace(thread, anchor);
    QObject::connect(
        thread, &QThread::finished, anchor,
        [thread, anchor] {
            {
                std::lock_guard lock(mutex);
                anchors.erase(thread);
            }
            anchor->deleteLater(); // a finishing thread runs its deferred deletes
        },
        Qt::DirectConnection);
    return anchor;
}
} // namespace

void CoroState::post(std::function<void()> fn)
{
    // (The thread is the context's at the start; QThread objects must outlive their coroutines.)
    anchorFor(m_thread)->post(std::move(fn));
}

quint64 CoroState::suspend(std::function<void()> cancelAwaited)
{
    m_suspended = true;
    ++m_generation;
    bool cancelNow = false;
    {
        std::lock_guard lock(m_mutex);
        if (m_cancelled.load(std::memory_order_acquire))
            cancelNow = true; // cancelled while it ran (a nested event loop, say): stop right here
        else
            m_cancelAwaited = std::move(cancelAwaited);
    }
    if (cancelNow) {
        if (cancelAwaited)
            cancelAwaited();
        post([self = shared_from_this()] { self->destroyIfSuspended(); });
    }
    return m_generation;
}

void CoroState::postResume(quint64 generation)
{
    post([self = shared_from_this(), generation] { self->resume(generation); });
}

void CoroState::resume(quint64 generation)
{
    if (!m_frame || !m_suspended || generation != m_generation)
        return; // destroyed, or a late wake-up for an await that is over
    std::function<void()> awaited; // keeps what the await refers to alive until it has resumed
    {
        std::lock_guard lock(m_mutex);
        awaited = std::exchange(m_cancelAwaited, nullptr);
    }
    if (isCancellationRequested() || (m_bound && !m_context)) {
        // Cancelled, or its object is gone: never resumed into it. Its locals are destroyed.
        destroyIfSuspended();
        return;
    }
    m_suspended = false;
    const auto keep = shared_from_this(); // the frame holds us; it may end inside resume()
    m_frame.resume();
}

void CoroState::onCancelRequested()
{
    std::function<void()> cancelAwaited;
    {
        std::lock_guard lock(m_mutex);
        m_cancelled.store(true, std::memory_order_release);
        cancelAwaited = std::move(m_cancelAwaited);
        m_cancelAwaited = nullptr;
    }
    if (cancelAwaited)
        cancelAwaited(); // thread-safe by contract: TaskHandle::cancel, QFuture::cancel
    post([self = shared_from_this()] { self->destroyIfSuspended(); });
}

void CoroState::destroyIfSuspended()
{
    if (!m_frame || !m_suspended)
        return; // finished already, or running: its next suspension sees the request
    const auto keep = shared_from_this();
    auto frame = std::exchange(m_frame, {});
    // Runs the locals' destructors; then the promise lets go of this state and its task
    // promise, which ends the task Cancelled.
    frame.destroy();
}

namespace {
// A fraction as the one conversion sees it (NaN → 0, clamped), so sums of them stay sane.
double sane(double fraction)
{
    return double(Progress::valueFromFraction(fraction)) / double(Progress::fractionScale);
}
} // namespace

void CoroState::setProgress(double fraction, const QString &text)
{
    std::lock_guard lock(m_progressMutex);
    m_progressBase = sane(fraction);
    m_control.updateProgress([&](Progress &p) {
        p.setFraction(m_progressBase);
        p.text = text;
    });
}

quint64 CoroState::beginWeighted(double weight)
{
    std::lock_guard lock(m_progressMutex);
    m_weightedToken = ++m_lastWeightedToken;
    m_weightedBase = m_progressBase;
    m_weight = std::isfinite(weight) ? std::clamp(weight, 0.0, 1.0) : 0.0;
    return m_weightedToken;
}

void CoroState::reportWeighted(quint64 token, double fraction, const QString &text)
{
    std::lock_guard lock(m_progressMutex);
    if (token != m_weightedToken)
        return; // that await has resumed (or another one is current): too late
    const double f = m_weightedBase + m_weight * sane(fraction);
    m_control.updateProgress([&](Progress &p) {
        p.setFraction(f);
        p.text = text;
    });
}

void CoroState::endWeighted(quint64 token)
{
    std::lock_guard lock(m_progressMutex);
    if (token != m_weightedToken)
        return;
    m_weightedToken = 0;
    m_progressBase = sane(m_weightedBase + m_weight);
    m_control.updateProgress([&](Progress &p) { p.setFraction(m_progressBase); });
}

void CoroState::completeProgress()
{
    std::lock_guard lock(m_progressMutex);
    m_weightedToken = 0;
    m_control.updateProgress([](Progress &p) {
        if (p.isDeterminate())
            p.value = p.maximum;
    });
}

SteadyTimer::SteadyTimer(std::chrono::milliseconds duration, std::function<void()> fired)
    : m_timer(std::make_unique<QTimer>())
    , m_deadline(std::chrono::steady_clock::now() + duration)
    , m_fired(std::move(fired))
{
    m_timer->setSingleShot(true);
    m_timer->setTimerType(Qt::PreciseTimer);
    QObject::connect(m_timer.get(), &QTimer::timeout, m_timer.get(), [this] { onTimeout(); });
    arm();
}

SteadyTimer::~SteadyTimer() = default;

void SteadyTimer::arm()
{
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(
        m_deadline - std::chrono::steady_clock::now());
    m_timer->start(std::max(left, std::chrono::milliseconds(0)));
}

void SteadyTimer::onTimeout()
{
    if (std::chrono::steady_clock::now() < m_deadline) {
        arm(); // early (a millisecond rounded down, say): the rest of it
        return;
    }
    if (auto fired = std::exchange(m_fired, nullptr))
        fired(); // last: it may destroy this
}

void CoroState::release()
{
    if (m_handles.fetch_sub(1, std::memory_order_acq_rel) == 1 && m_failed.load())
        reportIfUnobserved();
}

void CoroState::failed()
{
    m_failed.store(true);
    if (m_handles.load(std::memory_order_acquire) == 0)
        reportIfUnobserved();
}

void CoroState::reportIfUnobserved()
{
    if (m_core->isObserved() || m_reported.exchange(true))
        return;
    UnhandledErrorHandler handler;
    {
        std::lock_guard lock(s_handlerMutex);
        handler = s_handler;
    }
    (handler ? handler : defaultHandler)(m_core->name(), m_core->error());
}

} // namespace detail
} // namespace offload
