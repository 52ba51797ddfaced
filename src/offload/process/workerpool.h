// WorkerPool: persistent worker processes that run calls as Offload tasks.
#pragma once

#include <offload/core/taskhandle.h>
#include <offload/process/environment.h>
#include <offload/process/export.h>
#include <offload/process/launcher.h>
#include <offload/process/sharedbuffer.h>

#include <QByteArrayList>
#include <QJsonValue>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace offload {

namespace detail {
class PoolImpl;
}

// What a worker answered: a JSON value, an optional binary payload, and the shared buffers
// it handed back (its own, or ones it was given).
struct WorkerResult
{
    QJsonValue value;
    QByteArray payload;
    std::vector<SharedBuffer> buffers;
};

// Describes a pool. Programs are executed directly (argv, never a shell).
struct WorkerPoolSpec
{
    QString program;
    QByteArrayList arguments; // bytes, passed exactly
    Environment environment = Environment::inherited();
    QString workingDirectory;
    QString name; // for the monitor and errors; default: the program's file name
    // Where the workers run (see Launcher). Over ssh the channel is always stdin/stdout
    // (stdioChannel is implied) and a worker exits when its stdin ends.
    Launcher launcher;

    int minWorkers = 0; // kept running even when idle
    int maxWorkers = 0; // 0: the number of cores
    int prestart = 0; // started at creation, to hide start-up cost (at least minWorkers)
    std::chrono::milliseconds idleTimeout { 30000 }; // an extra idle worker exits after this
    std::chrono::milliseconds startTimeout { 10000 }; // spawn to hello
    std::chrono::milliseconds callTimeout { 0 }; // 0: none; per call, see CallOptions
    std::chrono::milliseconds cancelGrace { 2000 }; // cancel → SIGTERM → SIGKILL, this long apart

    // A worker that has calls and has sent nothing (SDKs answer pings from a reader thread)
    // for this long is wedged: killed, its calls fail with kind timeout. 0: off.
    std::chrono::milliseconds heartbeatTimeout { 0 };

    int maxAttempts = 1; // a call hit by a worker crash runs at most this often
    // More unexpected exits than restartLimit within restartWindow of workers that had not yet
    // answered a call (a worker that crashes at start or on every call), and the pool is
    // broken: calls fail at once with the last cause, until the window has passed again. A
    // worker that leaves on its own with code 0 while idle is not unexpected. A call whose
    // worker was stopped because another call on it ignored cancel is requeued, not failed.
    int restartLimit = 5;
    std::chrono::milliseconds restartWindow { 60000 };

    int niceness = 10; // added to workers' nice value
    bool stdioChannel = false; // frames on stdin/stdout instead of an inherited socket
    qint64 maxHeaderBytes = qint64(1) << 20;
    qint64 maxPayloadBytes = qint64(1) << 30;
    qint64 logBytes = 64 * 1024; // kept per worker and stream; errors carry the stderr tail
};

// One frame of a call's stream: what the worker published while the call ran (a video
// frame, a partial volume, a preview), with the buffers it lent for it. When the worker
// publishes faster than the context's thread takes them, only the latest waits: the others
// are dropped on the way and counted in `skipped`. A frame's buffers go back to the worker
// (to its BufferPool) when the last copy of them here is dropped.
struct WorkerFrame
{
    quint64 sequence = 0; // the worker's numbering, from 1
    quint64 skipped = 0; // frames dropped since the last one delivered (the GUI fell behind)
    QJsonValue value;
    QByteArray payload;
    std::vector<SharedBuffer> buffers;
};

// One call with everything it carries (see WorkerPool::submit).
struct WorkerCall
{
    QString method;
    QJsonValue args;
    QByteArray payload;
    std::vector<SharedBuffer> buffers;
    // The call's stream of frames, if the worker publishes one: runs on the context's thread,
    // latest first (see WorkerFrame), never after the call's final-state callbacks. The
    // function itself is destroyed on Offload's I/O thread when the call ends.
    std::function<void(const WorkerFrame &)> onFrame;
};

struct CallOptions
{
    QString name; // for the monitor; default "<pool>.<method>"
    int priority = 0; // higher first; FIFO among equals
    std::optional<std::chrono::milliseconds> timeout; // overrides the pool's callTimeout
};

// Runs calls on a pool of worker processes; every call is a task with the usual states,
// progress, cancellation and structured errors (ErrorKind::WorkerError, Crash, Timeout,
// Protocol, Launch). Its I/O runs on Offload's supervisor thread. Every write resumes where
// a full pipe or socket stopped it, so calls and answers of any size up to the limits pass
// on both channels. A worker that closes its channel with calls outstanding fails them with
// kind protocol. Stopping a worker stops its whole process tree (see ProgramRunner).
// Thread-safety: every member may be called from any thread. Ownership: the pool owns its
// worker processes; destroying it (or quitting the application) cancels queued calls,
// stops every worker (SIGTERM, then SIGKILL after cancelGrace) and reaps them all.
class OFFLOAD_PROCESS_EXPORT WorkerPool
{
public:
    explicit WorkerPool(WorkerPoolSpec spec);
    ~WorkerPool();
    WorkerPool(const WorkerPool &) = delete;
    WorkerPool &operator=(const WorkerPool &) = delete;

    TaskHandle<WorkerResult> submit(QObject *context, const QString &method,
        const QJsonValue &args = {}, const QByteArray &payload = {},
        const CallOptions &options = {});
    // The same with shared buffers (see SharedBuffer), as a WorkerCall:
    //   pool.submit(this, WorkerCall { .method = "blur", .buffers = { image } });
    // A local worker receives their memory files and maps them: nothing is copied, whatever
    // their size. A worker reached over stdin/stdout (stdioChannel, ssh, Slurm) gets their
    // bytes inline in the call instead, and the buffers of its answer come back the same
    // way: the same call works everywhere.
    TaskHandle<WorkerResult> submit(
        QObject *context, WorkerCall call, const CallOptions &options = {});

    struct Status
    {
        int workers = 0; // processes alive (starting, ready or stopping)
        int ready = 0; // said hello
        int busy = 0; // with at least one call
        int queued = 0;
        int restarts = 0; // unexpected exits so far
        double lastStartupMs = -1; // spawn to hello of the most recent worker, -1 before any
        bool broken = false;
        Error brokenError;
        std::vector<qint64> pids; // on the launcher's host (-1 while a remote one starts)
    };
    Status status() const;

    // Stops accepting calls, cancels everything and waits (at most 2 * cancelGrace + 1 s) until
    // every worker is reaped. Called by the destructor.
    void shutdown();

private:
    std::shared_ptr<detail::PoolImpl> d;
};

} // namespace offload

Q_DECLARE_METATYPE(offload::WorkerResult)
Q_DECLARE_METATYPE(offload::WorkerFrame)
