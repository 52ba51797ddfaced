// WorkerPool: a call's stream of frames (docs/protocol.md, "Streams of frames"). Frames go to
// the call's context latest first (TaskPromise::postLatest); the buffers a frame lent go back
// to the worker with a "release" once the application has dropped every copy of them.
#include "bufferframes_p.h"
#include "pool_p.h"
#include "qtframes_p.h"

#include <offload/workersdk/protocol.h>

#include <QJsonArray>

namespace offload::detail {

namespace {

// Held by every buffer of one frame; the last one dropped (on any thread) sends the release.
struct FrameRelease
{
    FrameRelease(std::weak_ptr<PoolImpl> pool, int worker, quint64 id, quint64 sequence)
        : pool(std::move(pool)), worker(worker), id(id), sequence(sequence)
    { }
    // Made in place only: a copy's destructor would send the release early.
    FrameRelease(const FrameRelease &) = delete;
    FrameRelease &operator=(const FrameRelease &) = delete;
    std::weak_ptr<PoolImpl> pool;
    int worker;
    quint64 id;
    quint64 sequence;
    ~FrameRelease()
    {
        if (auto p = pool.lock()) {
            Supervisor::instance().post([p, worker = worker, id = id, sequence = sequence] {
                p->sendRelease(worker, id, sequence);
            });
        }
    }
};

// A frame's number: a positive integer up to 2^53, exactly; anything else is 0.
quint64 sequenceOf(const QJsonValue &v)
{
    if (!v.isDouble())
        return 0;
    const auto n = protocol::exactInt64(v.toDouble());
    return n && *n >= 1 && *n <= (int64_t(1) << 53) ? quint64(*n) : 0;
}

} // namespace

void PoolImpl::onWorkerFrame(WorkerProc &w, quint64 id, const QJsonObject &h, QByteArray payload)
{
    const auto it = w.outstanding.find(id);
    if (it == w.outstanding.end())
        return protocolFailure(w, QStringLiteral("frame for unknown call id %1").arg(id));
    const quint64 sequence = sequenceOf(h.value(QLatin1String("seq")));
    if (sequence == 0)
        return protocolFailure(
            w, QStringLiteral("frame of call %1 without a sequence number").arg(id));
    std::shared_ptr<FrameRelease> token;
    if (!h.value(QLatin1String("buffers")).toArray().isEmpty())
        token = std::make_shared<FrameRelease>(weak_from_this(), w.index, id, sequence);
    std::vector<SharedBuffer> buffers;
    QString why;
    if (!takeFrameBuffers(h, payload, w.receivedFds, buffers, why, &w.mappings, {}, token))
        return protocolFailure(w, QStringLiteral("frame of call %1: %2").arg(id).arg(why));
    token.reset();
    CallState &call = *it->second;
    // Nobody listens, or the call is being cancelled: dropped here, its buffers go back now.
    if (!call.onFrame || call.cancelling || call.task->isCancellationRequested())
        return;
    WorkerFrame frame { sequence, 0, h.value(QLatin1String("value")), std::move(payload),
        std::move(buffers) };
    (void)call.task->postLatest(
        [onFrame = call.onFrame, frame = std::move(frame)](quint64 replaced) mutable {
            frame.skipped = replaced;
            (*onFrame)(frame);
        });
}

void PoolImpl::sendRelease(int workerIndex, quint64 id, quint64 sequence)
{
    const auto it = m_workers.find(workerIndex);
    if (it == m_workers.end())
        return; // the worker is gone: so are the buffers it lent
    write(*it->second,
        encodeQtFrame({ { QStringLiteral("type"), QStringLiteral("release") },
            { QStringLiteral("id"), qint64(id) }, { QStringLiteral("seq"), qint64(sequence) } }));
}

} // namespace offload::detail
