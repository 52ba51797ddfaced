// Private: the state of one worker pool. Everything here lives on the supervisor thread; the
// public WorkerPool only posts to it (and reads the few atomics). Every watch and timer holds a
// strong reference, so the pool outlives any callback of its own.
#pragma once

#include <offload/core/taskpromise.h>
#include <offload/process/workerpool.h>
#include <offload/workersdk/memoryfile.h>

#include "launch_p.h"
#include "logring_p.h"
#include "qtframes_p.h"
#include "supervisor_p.h"

#include <atomic>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <string>

#include <sys/epoll.h>

#include <sys/types.h>

namespace offload::detail {

struct CallState
{
    quint64 id = 0; // also the protocol id
    QString method;
    QJsonValue args;
    QByteArray payload;
    std::vector<SharedBuffer> buffers;
    std::shared_ptr<const std::function<void(const WorkerFrame &)>> onFrame; // null: none
    int priority = 0;
    std::chrono::milliseconds timeout { 0 };
    std::optional<TaskPromise<WorkerResult>> task; // set once, before it is submitted
    int attempts = 0;
    struct WorkerProc *worker = nullptr;
    uint64_t timeoutTimer = 0;
    bool cancelling = false; // cancel sent; the answer or the worker's death ends it Cancelled
};

struct WorkerProc
{
    enum State { Starting, Ready, Stopping };
    int index = 0;
    pid_t pid = -1;
    std::unique_ptr<Process> child;
    int sock = -1; // socket channel: our end (stdio channel: the child's stdin and stdout)
    uint64_t wSock = 0; // socket channel: readable (and writable while a write waits)
    uint64_t wStdin = 0; // stdio channel: writable, only while a write waits
    State state = Starting;
    bool everReady = false; // said hello: a later exit is not a start failure
    bool everAnswered = false; // answered a call: a later crash does not count to the limit
    std::unique_ptr<QtFrameDecoder> decoder;
    std::string writeBuf;
    size_t writeOff = 0;
    // Shared buffers whose descriptors go with the frame at `offset` in writeBuf (socket
    // channel only); held until that frame's first byte is sent.
    struct Attachment
    {
        size_t offset;
        std::vector<SharedBuffer> buffers;
    };
    std::deque<Attachment> attachments;
    bool fdPassing = false; // the worker takes descriptors (its hello said so; socket channel)
    std::vector<int> receivedFds; // descriptors received, waiting for the frame that names them
    protocol::MappingCache mappings; // of the worker's pooled buffers (frames sent again)
    bool watchingWrite = false;
    bool flushQueued = false;
    int concurrency = 1;
    std::map<quint64, std::shared_ptr<CallState>> outstanding;
    LogRing out, err;
    uint64_t helloTimer = 0, escalationTimer = 0, idleTimer = 0, heartbeatTimer = 0;
    uint64_t channelClosedTimer = 0; // EOF on the channel: does the process exit, or linger?
    Supervisor::Clock::time_point lastHeard; // any frame from the worker (heartbeat)
    quint64 pingSeq = 0;
    bool expectedExit = false; // we asked it to go (bye, idle, shutdown)
    bool killedForCancel = false; // stopped because a call ignored cancel or timed out
    QString failure; // why we killed it (protocol error, no hello): fails its calls
    ErrorKind failureKind = ErrorKind::Protocol;
    bool versionMismatch = false;
    Supervisor::Clock::time_point spawnedAt;
    ProcessInfo lastSample; // from the periodic sampler; stamped on calls as they start
};

class PoolImpl : public std::enable_shared_from_this<PoolImpl>
{
public:
    explicit PoolImpl(WorkerPoolSpec spec);

    // Supervisor thread.
    void start();
    void enqueue(std::shared_ptr<CallState> call);
    void cancel(quint64 callId);
    void shutdown(std::shared_ptr<std::promise<void>> done);
    WorkerPool::Status status() const;
    // A frame's buffers were dropped here: the worker may use them again (workerframes.cpp).
    void sendRelease(int workerIndex, quint64 id, quint64 sequence);

    const WorkerPoolSpec spec;
    const QString name;
    std::atomic<bool> accepting { true };
    std::atomic<quint64> nextCallId { 1 };

private:
    // pool.cpp: queue and policy
    void dispatch();
    void send(const std::shared_ptr<CallState> &call, WorkerProc &w);
    void spawnWorker();
    void armHello(WorkerProc &w);
    void escalateCancel(WorkerProc &w);
    void sendCancel(CallState &call);
    void noteUnexpectedExit(const Error &cause, bool countsToLimit);
    void recoverIfWindowPassed();
    void breakPool(Error error);
    void failQueued(const Error &error);
    void maintain();
    void armIdle(WorkerProc &w);
    void sampleProcesses();
    int liveWorkers() const;
    WorkerProc *worker(int index);
    // A watch or timer whose callback runs only while worker `index` still exists (it may
    // have been replaced meanwhile); both keep the pool alive.
    template<typename F> uint64_t watchWorker(int fd, int index, F fn, uint32_t events = EPOLLIN)
    {
        return m_sup.watch(
            fd, events, [this, self = shared_from_this(), index, fn](uint32_t events) {
                if (WorkerProc *w = worker(index))
                    fn(*w, events);
            });
    }
    template<typename F> uint64_t workerTimer(std::chrono::milliseconds after, int index, F fn)
    {
        return m_sup.addTimer(after, [this, self = shared_from_this(), index, fn] {
            if (WorkerProc *w = worker(index))
                fn(*w);
        });
    }
    std::shared_ptr<CallState> takeNextQueued();

    // workerio.cpp: per-process I/O
    void onSocket(WorkerProc &w, uint32_t events);
    void onChannelBytes(WorkerProc &w, const char *data, size_t size);
    void onChannelClosed(WorkerProc &w);
    void onOutput(WorkerProc &w, bool isStderr, const char *data, size_t size);
    void onExit(WorkerProc &w, const ExitStatus &status);
    void armHeartbeat(WorkerProc &w);
    void handleFrame(WorkerProc &w, protocol::Frame<QJsonObject> &frame);
    void finishCall(WorkerProc &w, quint64 id, const QJsonObject &header, QByteArray payload,
        std::vector<SharedBuffer> buffers, bool error);
    // workerframes.cpp: a call's stream of frames, and the buffers that go back
    void onWorkerFrame(WorkerProc &w, quint64 id, const QJsonObject &header, QByteArray payload);
    void protocolFailure(
        WorkerProc &w, const QString &reason, ErrorKind kind = ErrorKind::Protocol);
    void write(WorkerProc &w, const std::string &frame, std::vector<SharedBuffer> attach = {});
    void flush(WorkerProc &w);
    void releaseWorker(WorkerProc &w);
    void detach(CallState &call);
    Error crashError(const WorkerProc &w, const ExitStatus &status) const;

    Supervisor &m_sup;
    std::map<int, std::deque<std::shared_ptr<CallState>>, std::greater<>> m_queue;
    std::map<int, std::unique_ptr<WorkerProc>> m_workers; // by index
    int m_nextIndex = 0;
    std::deque<Supervisor::Clock::time_point> m_restartTimes;
    int m_restarts = 0;
    bool m_broken = false;
    Error m_brokenError;
    uint64_t m_recoverTimer = 0; // a broken pool recovers when its window has passed
    bool m_stopping = false;
    int m_consecutiveStartFailures = 0; // reset by every hello
    double m_lastStartupMs = -1;
    std::shared_ptr<std::promise<void>> m_stopped;
    uint64_t m_sampleTimer = 0;
};

} // namespace offload::detail
