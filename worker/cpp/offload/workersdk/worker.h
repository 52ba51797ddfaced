// Offload C++ worker SDK: register methods, report progress and logs, see cancellation,
// return JSON and bytes; the same binary runs by hand with --call for debugging.
// Header-only, standard C++ and POSIX only (no Qt), so a worker starts in about a
// millisecond. Protocol: docs/protocol.md.
//
//   int main(int argc, char **argv) {
//       offload::worker::Worker w("adder");
//       w.method("add", [](offload::worker::Call &call) -> offload::worker::Result {
//           return call.args()["a"].toDouble() + call.args()["b"].toDouble();
//       });
//       return w.exec(argc, argv);
//   }
//
// Threading: methods run on the thread that called exec(), one at a time. Started by a pool,
// that thread reads the pool's frames itself while no method runs (a call then reaches its
// method with no hand-off between threads). Once a method has run for 2 ms, a reader thread
// takes over reading until it returns: it queues calls, records cancel requests
// (isCancelled() and waitCancelled() read them) and answers the pool's heartbeat pings, so a
// method that computes for long without calling progress() is not mistaken for a wedged
// worker. Frames are written under a lock, so
// log() may be called from any thread; progress() and stage() from the method's thread.
//
// Output: started by a pool, stdout is made line-buffered (a stray printf reaches the pool's
// log line by line, not when the worker exits); in stdio mode the SDK first moves the
// process's own stdout to stderr and stdin to /dev/null, so neither touches the frames.
// Writes handle partial writes, EINTR and EAGAIN (a channel inherited non-blocking).
#pragma once

#include "buffer.h"
#include "json.h"
#include "memoryfile.h"
#include "protocol.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <thread>
#include <typeinfo>
#include <vector>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/timerfd.h>
#endif

namespace offload::worker {

// A call's "id": a positive integer up to 2^53 (exact in every JSON parser), else nullopt.
// 1.5, -1, 0, "1", true and 1e300 are not ids: the worker treats them as a protocol error.
inline std::optional<int64_t> callId(const json::Value &id)
{
    const std::optional<int64_t> n = id.toExactInt();
    if (!n || *n < 1 || *n > (int64_t(1) << 53))
        return std::nullopt;
    return n;
}

// The largest header a worker accepts. The pool's header limit is its own setting (1 MiB by
// default, raised to send bigger JSON arguments), so a worker takes any header up to the
// payload limit: the decoder buffers only bytes that arrive, so this costs nothing.
inline constexpr int64_t workerMaxHeader = protocol::defaultMaxPayload;

namespace detail {

// Writes all of data: a partial write continues, EINTR retries, EAGAIN (a descriptor that was
// inherited non-blocking) waits until fd is writable. False if the peer is gone or on error.
inline bool writeAll(int fd, const char *data, size_t size)
{
    while (size > 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n > 0) {
            data += n;
            size -= size_t(n);
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p { fd, POLLOUT, 0 };
            if (::poll(&p, 1, -1) < 0 && errno != EINTR)
                return false;
        } else {
            return false;
        }
    }
    return true;
}

// writeAll on a Unix socket with descriptors attached to the first byte of data.
inline bool writeAllWithDescriptors(int fd, const std::string &data, const std::vector<int> &fds)
{
    for (;;) {
        const ssize_t n
            = protocol::sendWithDescriptors(fd, data.data(), data.size(), fds.data(), fds.size());
        if (n > 0)
            return writeAll(fd, data.data() + n, data.size() - size_t(n));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p { fd, POLLOUT, 0 };
            if (::poll(&p, 1, -1) < 0 && errno != EINTR)
                return false;
            continue;
        }
        return false;
    }
}

} // namespace detail

struct JsonTraits
{
    using Header = json::Value;
    static bool parseHeader(std::string_view text, Header &out, int64_t &size, std::string &error)
    {
        try {
            out = json::parse(text);
        } catch (const json::ParseError &e) {
            error = std::string("frame header is not valid JSON: ") + e.what();
            return false;
        }
        if (!out.isObject() || !out["type"].isString()) {
            error = "frame header is not a JSON object with a string \"type\"";
            return false;
        }
        const json::Value &s = out["size"];
        size = 0;
        if (!s.isNull()) {
            const std::optional<int64_t> n = s.toExactInt(); // never a bare cast: 1e300 is UB
            if (!n || *n < 0) {
                error = "frame payload size is not a non-negative integer";
                return false;
            }
            size = *n; // the decoder bounds it by its payload limit
        }
        return true;
    }
};

// Thrown by Call::throwIfCancelled(); the call is then answered as cancelled.
class Cancelled : public std::exception
{
public:
    const char *what() const noexcept override { return "cancelled"; }
};

// A method's answer: a JSON value, an optional binary payload and shared buffers.
struct Result
{
    json::Value value;
    std::string payload;
    std::vector<Buffer> buffers;
    Result() = default;
    template<typename T, typename = std::enable_if_t<std::is_constructible_v<json::Value, T>>>
    Result(T &&v, std::string bytes = {}) : value(std::forward<T>(v)), payload(std::move(bytes))
    { }
};

class Worker;

// One call of a method. Valid only while the method runs.
class Call
{
public:
    int64_t id() const { return m_id; }
    const std::string &method() const { return m_method; }
    const json::Value &args() const { return m_args; }
    const std::string &payload() const { return m_payload; }
    // The shared buffers the call came with, in order (a copy may be returned in the Result).
    std::vector<Buffer> &buffers() { return m_buffers; }

    // Progress as a fraction in [0, 1] or as value of max; text and stage are optional.
    // Reports closer together than the worker's progress interval (default 5 ms) are merged;
    // the latest is always sent before the answer.
    void progress(double fraction, std::string_view text = {});
    void progress(int64_t value, int64_t max, std::string_view text = {});
    void stage(std::string_view name, int index, int count);
    void log(std::string_view text, std::string_view level = "info");
    // Publishes the next frame of this call's stream (a preview, a video frame): the
    // application's onFrame gets it, or only a later one if it falls behind. The buffers are
    // lent: the application maps the same memory, so do not write them until they come back
    // (a BufferPool's buffers return to it by themselves). Over stdin/stdout they go inline
    // and come back at once. Returns the frame's number, from 1.
    int64_t publish(
        json::Value value, std::vector<Buffer> buffers = {}, const std::string &payload = {});
    // Whether the pool asked to cancel this call. Cheap (no I/O): the reader thread records
    // cancel requests as they arrive.
    bool isCancelled();
    // Waits up to timeout for a cancel request; true if the call is cancelled.
    bool waitCancelled(std::chrono::milliseconds timeout);
    void throwIfCancelled()
    {
        if (isCancelled())
            throw Cancelled();
    }

private:
    friend class Worker;
    Call(Worker &w, int64_t id, std::string method, json::Value args, std::string payload,
        std::vector<Buffer> buffers)
        : m_worker(w)
        , m_id(id)
        , m_method(std::move(method))
        , m_args(std::move(args))
        , m_payload(std::move(payload))
        , m_buffers(std::move(buffers))
    { }
    void sendProgress(json::Object fields, bool force);
    void flushProgress();
    int64_t m_frames = 0;
    Worker &m_worker;
    int64_t m_id;
    std::string m_method;
    json::Value m_args;
    std::string m_payload;
    std::vector<Buffer> m_buffers;
    json::Object m_pending; // progress fields merged since the last frame
    std::chrono::steady_clock::time_point m_lastSent {};
};

class Worker
{
public:
    using Handler = std::function<Result(Call &)>;

    explicit Worker(std::string name) : m_name(std::move(name)) { }
    Worker(const Worker &) = delete;
    Worker &operator=(const Worker &) = delete;
    ~Worker()
    {
        stopReader();
        for (int fd : m_fds)
            ::close(fd);
    }

    Worker &method(std::string name, Handler handler)
    {
        m_methods[std::move(name)] = std::move(handler);
        return *this;
    }
    // How many calls the pool may send before earlier ones are answered. Calls still run one
    // at a time; a depth above 1 lets the pool pipeline small calls. Default 1.
    Worker &setPipelineDepth(int depth)
    {
        m_concurrency = depth < 1 ? 1 : depth;
        return *this;
    }
    // Minimum time between progress frames (default 5 ms, 200/s: far above what a GUI shows,
    // far below what would keep the pool's I/O thread busy).
    Worker &setProgressInterval(std::chrono::microseconds interval)
    {
        m_progressInterval = interval;
        return *this;
    }

    // Runs the protocol when started by a pool; otherwise the hand-run command line:
    //   worker --call METHOD [JSON_ARGS] [--payload-file FILE]   prints the result
    //   worker --list                                              prints the methods
    // Exit status when served: 0 after "bye" or when the pool closes the channel, 2 if the
    // pool speaks another protocol version, 3 after a protocol error.
    int exec(int argc, char **argv)
    {
        std::signal(SIGPIPE, SIG_IGN); // a vanished pool gives EPIPE, answered by exiting
        if (const char *fd = std::getenv("OFFLOAD_WORKER_FD")) {
            m_in = m_out = std::atoi(fd);
            ::fcntl(m_in, F_SETFD, FD_CLOEXEC); // programs the method starts do not inherit it
            struct stat st;
            m_inIsSocket = ::fstat(m_in, &st) == 0 && S_ISSOCK(st.st_mode);
            return serve();
        }
        if (const char *stdio = std::getenv("OFFLOAD_WORKER_STDIO"); stdio && *stdio == '1') {
            std::fflush(stdout);
            m_in = ::fcntl(0, F_DUPFD_CLOEXEC, 3); // frames come from the real stdin...
            m_out = ::fcntl(1, F_DUPFD_CLOEXEC, 3); // ...and go to the real stdout,
            ::dup2(2, 1); // a stray print to stderr,
            if (const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC); null >= 0) {
                ::dup2(null, 0); // and a stray read of stdin sees EOF
                ::close(null);
            }
            return serve();
        }
        return runByHand(argc, argv);
    }

private:
    friend class Call;

    struct Pending
    {
        int64_t id;
        std::string method;
        json::Value args;
        std::string payload;
        std::vector<Buffer> buffers;
    };

    int serve()
    {
        // Stray prints reach the pool's log line by line, whatever stdout is connected to.
        std::fflush(stdout);
        std::setvbuf(stdout, nullptr, _IOLBF, BUFSIZ);
        json::Array names;
        for (const auto &[n, h] : m_methods)
            names.push_back(n);
        if (!send(json::Object { { "type", "hello" }, { "protocol", protocol::version },
                { "pid", int64_t(::getpid()) }, { "name", m_name },
                { "concurrency", m_concurrency }, { "methods", names },
                { "fd_passing", m_inIsSocket } }))
            return 0;
        if (!startReader())
            return 1;
        std::unique_lock lock(m_mutex);
        for (;;) {
            // No call to run: this thread reads the channel itself, so a call reaches its
            // method without a hand-off between threads (a wake-up costs more than the call).
            while (m_queue.empty() && !m_bye && !m_closed) {
                lock.unlock();
                readOnMethodThread();
                lock.lock();
            }
            // Calls queued before "bye" or the end of the channel still run; after a protocol
            // error or a version mismatch the stream means nothing any more.
            if (m_queue.empty() || m_exitCode != 0)
                break;
            Pending p = std::move(m_queue.front());
            m_queue.pop_front();
            m_currentId = p.id;
            m_callRunning = true;
            m_callStarted = std::chrono::steady_clock::now();
            // One timer for a stream of short calls, not a set and a clear per call (two
            // syscalls a call cost a fifth of pipelined throughput): armed if not already, and
            // the reader, when it fires, looks at how long the current call has run.
            const bool arm = !std::exchange(m_timerArmed, true);
            lock.unlock();
            if (arm)
                armTakeover(takeoverDelay);
            run(p);
            lock.lock();
            m_currentId = 0;
            m_callRunning = false;
            if (m_readerReading) { // the call ran long: take reading back from the reader
                m_handBack = true;
                wakeReader();
                m_cv.wait(lock, [this] { return !m_readerReading; });
                m_handBack = false;
            }
        }
        lock.unlock();
        stopReader();
        return m_exitCode;
    }

    // The reader thread sleeps until a call has run for takeoverDelay (a timer armed when a
    // call starts and none is armed, which costs no wake-up while calls end sooner: when it
    // fires, the reader re-arms it for the current call's remaining time) and then reads the
    // channel until the call ends: it records cancel requests and answers pings meanwhile.
    bool startReader()
    {
        if (::pipe2(m_wake, O_CLOEXEC | O_NONBLOCK) != 0) {
            std::fprintf(stderr, "offload worker: pipe: %s\n", std::strerror(errno));
            return false;
        }
#ifdef __linux__
        m_timer = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
        if (m_timer < 0) {
            std::fprintf(stderr, "offload worker: timerfd: %s\n", std::strerror(errno));
            return false;
        }
#else
        if (::pipe2(m_trigger, O_CLOEXEC | O_NONBLOCK) != 0) {
            std::fprintf(stderr, "offload worker: pipe: %s\n", std::strerror(errno));
            return false;
        }
        m_timer = m_trigger[0];
#endif
        m_reader = std::thread([this] { readerLoop(); });
        return true;
    }

    void stopReader()
    {
        if (!m_reader.joinable())
            return;
        {
            std::lock_guard lock(m_mutex);
            m_stopReader = true;
        }
        wakeReader();
        m_reader.join();
        for (int *fd : { &m_wake[0], &m_wake[1], &m_timer, &m_trigger[1] }) {
            if (*fd >= 0)
                ::close(*fd);
            *fd = -1;
        }
    }

    void wakeReader()
    {
        const char byte = 0;
        detail::writeAll(m_wake[1], &byte, 1);
    }

    static void drain(int fd)
    {
        char bytes[64];
        while (::read(fd, bytes, sizeof bytes) > 0)
            ;
    }

    // Arms the reader's takeover timer to fire once, after `after`.
    void armTakeover(std::chrono::steady_clock::duration after)
    {
#ifdef __linux__
        const auto ns = std::max<int64_t>(
            1, int64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(after).count()));
        itimerspec t {};
        t.it_value.tv_sec = time_t(ns / 1'000'000'000);
        t.it_value.tv_nsec = long(ns % 1'000'000'000);
        ::timerfd_settime(m_timer, 0, &t, nullptr);
#else
        (void)after;
        detail::writeAll(m_trigger[1], "", 1); // no timer here: the reader takes over at once
#endif
    }

    void readerLoop()
    {
        for (;;) {
            pollfd p[2] = { { m_timer, POLLIN, 0 }, { m_wake[0], POLLIN, 0 } };
            if (::poll(p, 2, -1) < 0 && errno != EINTR)
                return finish(0, std::string("poll: ") + std::strerror(errno));
            const bool fired = p[0].revents != 0;
            drain(m_wake[0]);
            drain(m_timer);
            std::optional<std::chrono::steady_clock::duration> rearm;
            bool take = false;
            {
                std::lock_guard lock(m_mutex);
                if (m_stopReader)
                    return;
                if (fired)
                    m_timerArmed = false;
                // A timer that fired between calls finds none running: the next call arms it.
                if (!m_callRunning || m_closed || m_handBack)
                    continue;
#ifdef __linux__
                // It was armed for an earlier call: wait for the rest of this one's delay.
                const auto ran = std::chrono::steady_clock::now() - m_callStarted;
                if (ran < takeoverDelay) {
                    if (!std::exchange(m_timerArmed, true))
                        rearm = takeoverDelay - ran;
                } else {
                    take = m_readerReading = true;
                }
#else
                take = m_readerReading = true;
#endif
            }
            if (rearm) {
                armTakeover(*rearm);
                continue;
            }
            if (!take)
                continue;
            readWhileCallRuns();
            std::lock_guard lock(m_mutex);
            m_readerReading = false;
            m_cv.notify_all();
            if (m_stopReader)
                return;
        }
    }

    // On the reader thread, while a long call runs: until the method's thread takes reading
    // back, the channel ends or breaks, or the worker stops.
    void readWhileCallRuns()
    {
        for (;;) {
            pollfd p[2] = { { m_in, POLLIN, 0 }, { m_wake[0], POLLIN, 0 } };
            if (::poll(p, 2, -1) < 0) {
                if (errno == EINTR)
                    continue;
                return finish(0, std::string("poll: ") + std::strerror(errno));
            }
            if (p[1].revents != 0) {
                drain(m_wake[0]);
                std::lock_guard lock(m_mutex);
                if (m_handBack || m_stopReader)
                    return;
            }
            if (p[0].revents == 0)
                continue;
            const ssize_t n = m_inIsSocket ? receive(0)
                                           : ::read(m_in, m_readBuffer.data(), m_readBuffer.size());
            if (n == refusedDescriptors)
                return; // finish() has said why
            if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
                continue; // EAGAIN: the channel was inherited non-blocking; poll again
            if (n <= 0)
                return finish(0, {}); // the pool closed the channel
            if (!consume(size_t(n)))
                return;
        }
    }

    // On the method's thread while no call runs: waits for bytes and takes the frames in them.
    //
    // Why a socket is waited on with poll(): a thread blocked in read() on a Unix socket is
    // woken each time the pool reads what this worker wrote (the kernel signals "writable"
    // on the same wait queue, and a blocked read does not filter by event), which cost each
    // call a futile wake-up: two process switches, ~13 us of a 55 us round trip when
    // everything shares one CPU. poll() wakes only for POLLIN. A pipe has no such wake-up.
    void readOnMethodThread()
    {
        for (;;) {
            if (m_inIsSocket) {
                const ssize_t n = receive(MSG_DONTWAIT);
                if (n == refusedDescriptors)
                    return; // finish() has said why
                if (n > 0) {
                    consume(size_t(n));
                    return;
                }
                if (n == 0)
                    return finish(0, {}); // the pool closed the channel
                if (errno == EAGAIN || errno == EWOULDBLOCK) {
                    pollfd p { m_in, POLLIN, 0 };
                    if (::poll(&p, 1, -1) >= 0 || errno == EINTR)
                        continue;
                } else if (errno == EINTR) {
                    continue;
                }
                return finish(0, {}); // the channel broke
            }
            const ssize_t n = ::read(m_in, m_readBuffer.data(), m_readBuffer.size());
            if (n > 0) {
                consume(size_t(n));
                return;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                pollfd p { m_in, POLLIN, 0 }; // the channel was inherited non-blocking
                if (::poll(&p, 1, -1) >= 0 || errno == EINTR)
                    continue;
            }
            return finish(0, {}); // the pool closed the channel
        }
    }

    // Reads the socket channel into m_readBuffer, keeping the descriptors that come with the
    // bytes (shared buffers) in m_fds for the frame that names them. refusedDescriptors (after
    // finish()) if the pool sent more descriptors than frames name, or other ancillary data.
    static constexpr ssize_t refusedDescriptors = -2;
    ssize_t receive(int flags)
    {
        bool refused = false;
        const ssize_t n = protocol::receiveWithDescriptors(
            m_in, m_readBuffer.data(), m_readBuffer.size(), flags, m_fds, refused);
        if (refused || m_fds.size() > protocol::maxPendingDescriptors) {
            finish(3, "protocol error: the pool sent file descriptors no frame names");
            return refusedDescriptors;
        }
        return n;
    }

    // The buffers a call frame announces (docs/protocol.md, "Shared buffers"), its payload cut
    // to its own. False (after finish()) if the frame and what came with it disagree.
    bool takeBuffers(const json::Value &h, std::string &payload, std::vector<Buffer> &out)
    {
        if (!h.contains("buffers"))
            return true;
        const auto exact = [](const json::Value &v) -> int64_t {
            return v.isNumber() ? v.toExactInt().value_or(-1) : -1;
        };
        std::vector<protocol::BufferEntry> entries;
        for (const json::Value &e : h["buffers"].array())
            entries.push_back({ exact(e["size"]), e["sealed"].toBool(), e["inline"].toBool(),
                e["reuse"].toBool() });
        std::vector<std::shared_ptr<protocol::MemoryFile>> files;
        std::string error;
        const int64_t own = exact(h["payload_size"]);
        if (!h["buffers"].isArray()
            || !protocol::takeBuffers(entries, payload.data(), int64_t(payload.size()), own, m_fds,
                files, error, &m_mappings)) {
            finish(3, "protocol error: " + (error.empty() ? "\"buffers\" is not a list" : error));
            return false;
        }
        for (auto &f : files)
            out.push_back(Buffer(std::move(f)));
        payload.resize(size_t(own));
        return true;
    }

    // Feeds n bytes of m_readBuffer to the decoder and handles the frames in them, on whichever
    // thread reads now. False when reading must stop (finish() has said why).
    bool consume(size_t n)
    {
        m_decoder.feed(m_readBuffer.data(), n);
        while (auto frame = m_decoder.next()) {
            if (!handle(*frame))
                return false;
        }
        if (m_decoder.hasError()) {
            finish(3, "protocol error: " + m_decoder.error());
            return false;
        }
        return true;
    }

    // Ends the reader: the channel is closed (status 0) or broken (2, 3: message says why).
    void finish(int status, const std::string &message)
    {
        if (!message.empty())
            std::fprintf(stderr, "offload worker: %s\n", message.c_str());
        std::lock_guard lock(m_mutex);
        m_closed = true;
        if (status != 0 && m_exitCode == 0)
            m_exitCode = status;
        m_cv.notify_all();
    }

    // On the thread that reads now. False when reading must stop.
    bool handle(protocol::Frame<json::Value> &frame)
    {
        const json::Value &h = frame.header;
        const std::string type = h["type"].toString();
        if (type == "call" || type == "cancel") {
            const std::optional<int64_t> id = callId(h["id"]);
            if (!id) {
                finish(3,
                    "protocol error: " + type + " id " + json::serialize(h["id"])
                        + " is not a positive integer up to 2^53");
                return false;
            }
            std::vector<Buffer> buffers;
            if (type == "call" && !takeBuffers(h, frame.payload, buffers))
                return false;
            std::lock_guard lock(m_mutex);
            if (type == "call") {
                m_queue.push_back({ *id, h["method"].toString(), h["args"],
                    std::move(frame.payload), std::move(buffers) });
            } else if (*id == m_currentId
                || std::any_of(m_queue.begin(), m_queue.end(),
                    [&](const Pending &p) { return p.id == *id; })) {
                m_cancelled.insert(*id); // a cancel for a call already answered is moot
            }
            m_cv.notify_all();
        } else if (type == "release") {
            // The application dropped a frame: the buffers it lent are free again. Dropped
            // outside the lock (a BufferPool takes its own).
            std::vector<Buffer> back;
            {
                std::lock_guard lock(m_mutex);
                const auto it = m_lent.find(
                    { h["id"].toExactInt().value_or(0), h["seq"].toExactInt().value_or(0) });
                if (it != m_lent.end()) {
                    back = std::move(it->second);
                    m_lent.erase(it);
                }
            }
        } else if (type == "ping") {
            if (!send(json::Object { { "type", "pong" }, { "seq", h["seq"] } })) {
                finish(0, {}); // the pool is gone
                return false;
            }
        } else if (type == "bye") {
            std::lock_guard lock(m_mutex);
            m_bye = true;
            m_cv.notify_all();
        } else if (type == "hello") {
            if (h["protocol"].toExactInt() != protocol::version) {
                finish(2,
                    "pool speaks protocol " + json::serialize(h["protocol"]) + ", this worker "
                        + std::to_string(protocol::version));
                return false;
            }
        }
        return true;
    }

    static std::string typeName(const std::type_info &t)
    {
        int status = 0;
        char *d = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
        std::string s = status == 0 && d ? d : t.name();
        std::free(d);
        return s;
    }

    bool takeCancelled(int64_t id)
    {
        std::lock_guard lock(m_mutex);
        return m_cancelled.erase(id) > 0;
    }

    void sendCancelled(int64_t id)
    {
        sendOrExit(json::Object {
            { "type", "error" }, { "id", id }, { "cancelled", true }, { "message", "cancelled" } });
    }

    void run(Pending &p)
    {
        auto it = m_methods.find(p.method);
        if (it == m_methods.end()) {
            takeCancelled(p.id);
            sendError(p.id, "no method named '" + p.method + "'", "LookupError");
            return;
        }
        if (takeCancelled(p.id)) {
            sendCancelled(p.id);
            return;
        }
        Call call(
            *this, p.id, p.method, std::move(p.args), std::move(p.payload), std::move(p.buffers));
        try {
            Result r = it->second(call);
            call.flushProgress();
            if (takeCancelled(p.id))
                sendCancelled(p.id);
            else if (std::any_of(r.buffers.begin(), r.buffers.end(),
                         [](const Buffer &b) { return b.isNull(); })
                || r.buffers.size() > size_t(protocol::maxBuffersPerFrame))
                sendError(p.id,
                    "the result has a null buffer, or more than "
                        + std::to_string(protocol::maxBuffersPerFrame),
                    "std::invalid_argument");
            else if (std::any_of(r.buffers.begin(), r.buffers.end(),
                         [](const Buffer &b) { return b.m_file->pooled(); }))
                // The pool would hand it out again while the application still reads it.
                sendError(p.id,
                    "a BufferPool's buffer in a result (it would be reused while the "
                    "application holds it): publish it in a frame, or use Buffer::create",
                    "std::invalid_argument");
            else
                sendOrExit(
                    json::Object { { "type", "result" }, { "id", p.id }, { "value", r.value } },
                    r.payload, r.buffers);
        } catch (const Cancelled &) {
            takeCancelled(p.id);
            sendCancelled(p.id);
        } catch (const std::exception &e) {
            takeCancelled(p.id);
            call.flushProgress();
            sendError(p.id, e.what(), typeName(typeid(e)));
        } catch (...) {
            takeCancelled(p.id);
            const std::type_info *t = abi::__cxa_current_exception_type();
            sendError(p.id, "unknown exception", t ? typeName(*t) : "unknown type");
        }
    }

    void sendError(int64_t id, const std::string &message, const std::string &origin)
    {
        sendOrExit(json::Object {
            { "type", "error" }, { "id", id }, { "message", message }, { "origin", origin } });
    }

    // Writes one frame, whole, under the write lock (the reader thread answers pings). Shared
    // buffers go as descriptors with the frame's first byte on the socket channel, else
    // inline after the payload. False if the pool is gone.
    bool send(json::Object header, const std::string &payload = {},
        const std::vector<Buffer> &buffers = {})
    {
        if (m_byHand)
            return answerByHand(header, payload);
        std::string withInline;
        const std::string *body = &payload;
        std::vector<int> fds;
        if (!buffers.empty()) {
            withInline = payload;
            json::Array list;
            for (const Buffer &b : buffers) {
                json::Object e { { "size", b.size() } };
                if (b.isSealed())
                    e["sealed"] = true;
                if (m_inIsSocket) {
                    fds.push_back(b.m_file->fd());
                    if (b.m_file->pooled())
                        e["reuse"] = true;
                } else {
                    e["inline"] = true;
                    const auto bytes = b.constBytes();
                    withInline.append(reinterpret_cast<const char *>(bytes.data()), bytes.size());
                }
                list.push_back(json::Value(std::move(e)));
            }
            header["buffers"] = json::Value(std::move(list));
            header["payload_size"] = int64_t(payload.size());
            body = &withInline;
        }
        if (!body->empty())
            header["size"] = int64_t(body->size());
        const std::string frame
            = protocol::encodeFrame(json::serialize(json::Value(std::move(header))), *body);
        std::lock_guard lock(m_writeMutex);
        if (fds.empty())
            return detail::writeAll(m_out, frame.data(), frame.size());
        return detail::writeAllWithDescriptors(m_out, frame, fds);
    }

    // On the method's thread: a pool that is gone ends the worker quietly.
    void sendOrExit(json::Object header, const std::string &payload = {},
        const std::vector<Buffer> &buffers = {})
    {
        if (!send(std::move(header), payload, buffers)) {
            stopReader();
            std::exit(0);
        }
    }

    int runByHand(int argc, char **argv)
    {
        std::string method, args = "null", payloadFile;
        for (int i = 1; i < argc; ++i) {
            const std::string a = argv[i];
            if (a == "--list") {
                for (const auto &[n, h] : m_methods)
                    std::printf("%s\n", n.c_str());
                return 0;
            }
            if (a == "--call" && i + 1 < argc) {
                method = argv[++i];
                if (i + 1 < argc && argv[i + 1][0] != '-')
                    args = argv[++i];
            } else if (a == "--payload-file" && i + 1 < argc) {
                payloadFile = argv[++i];
            } else {
                method.clear();
                break;
            }
        }
        if (method.empty()) {
            std::fprintf(stderr,
                "usage: %s --call METHOD [JSON_ARGS] [--payload-file FILE] | --list\n"
                "(started by an Offload worker pool, it speaks the worker protocol)\n",
                argv[0]);
            return 2;
        }
        Pending p { 1, method, {}, {} };
        try {
            p.args = json::parse(args);
        } catch (const json::ParseError &e) {
            std::fprintf(stderr, "invalid JSON arguments: %s\n", e.what());
            return 2;
        }
        if (!payloadFile.empty()) {
            FILE *f = std::fopen(payloadFile.c_str(), "rb");
            if (!f) {
                std::fprintf(
                    stderr, "cannot read %s: %s\n", payloadFile.c_str(), std::strerror(errno));
                return 2;
            }
            char buf[65536];
            size_t n;
            while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
                p.payload.append(buf, n);
            std::fclose(f);
        }
        m_byHand = true;
        m_byHandStatus = 1;
        run(p);
        return m_byHandStatus;
    }

    // By hand, the answer is printed as it is made: the value as JSON on stdout, the rest on
    // stderr. Nothing is buffered in between, so an answer of any size prints.
    bool answerByHand(const json::Object &header, const std::string &payload)
    {
        const auto field = [&](const char *key) -> json::Value {
            const auto it = header.find(key);
            return it == header.end() ? json::Value() : it->second;
        };
        const std::string type = field("type").toString();
        if (type == "result") {
            std::string out = json::serialize(field("value"));
            out += '\n';
            std::fflush(stdout);
            if (!detail::writeAll(1, out.data(), out.size()))
                std::fprintf(stderr, "cannot write the result: %s\n", std::strerror(errno));
            else
                m_byHandStatus = 0;
            if (!payload.empty())
                std::fprintf(stderr, "(result payload: %zu bytes)\n", payload.size());
        } else if (type == "error") {
            std::fprintf(stderr, "error: %s (%s)\n", field("message").toString().c_str(),
                field("origin").toString("cancelled").c_str());
        }
        return true;
    }

    std::string m_name;
    std::map<std::string, Handler> m_methods;
    int m_concurrency = 1;
    std::chrono::microseconds m_progressInterval { 5000 };
    int m_in = -1;
    bool m_inIsSocket = false; // set before any thread reads
    int m_out = -1;
    bool m_byHand = false;
    int m_byHandStatus = 1;
    // How long a call runs before the reader thread takes over reading: the longest a cancel
    // request or a ping waits to be read.
    static constexpr std::chrono::milliseconds takeoverDelay { 2 };
    // Used by one thread at a time: the method's thread, or the reader while m_readerReading.
    protocol::FrameDecoder<JsonTraits> m_decoder { workerMaxHeader, protocol::defaultMaxPayload };
    std::vector<int> m_fds; // received descriptors waiting for the frame that names them
    protocol::MappingCache m_mappings; // of the pool's buffers that it will send again
    std::vector<char> m_readBuffer = std::vector<char>(size_t(1) << 18);
    std::thread m_reader;
    int m_wake[2] = { -1, -1 }; // a byte: m_handBack or m_stopReader was set
    int m_timer = -1; // the takeover timer (elsewhere than Linux, m_trigger's read end)
    int m_trigger[2] = { -1, -1 };
    std::mutex m_writeMutex; // one frame at a time on m_out
    std::mutex m_mutex; // guards what follows
    std::condition_variable m_cv;
    std::deque<Pending> m_queue;
    std::set<int64_t> m_cancelled;
    // Buffers of published frames, by (call, frame), until the application releases them.
    std::map<std::pair<int64_t, int64_t>, std::vector<Buffer>> m_lent;
    int64_t m_currentId = 0;
    bool m_callRunning = false;
    std::chrono::steady_clock::time_point m_callStarted;
    bool m_timerArmed = false; // the takeover timer is set and has not been seen to fire
    bool m_readerReading = false; // the reader thread holds the channel's read side
    bool m_handBack = false; // the method's thread wants it back
    bool m_stopReader = false;
    bool m_bye = false;
    bool m_closed = false;
    int m_exitCode = 0;
};

inline void Call::sendProgress(json::Object fields, bool force)
{
    for (auto &[k, v] : fields)
        m_pending[k] = std::move(v);
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - m_lastSent < m_worker.m_progressInterval)
        return;
    flushProgress();
    m_lastSent = now;
}

inline void Call::flushProgress()
{
    if (m_pending.empty())
        return;
    json::Object frame = std::move(m_pending);
    m_pending.clear();
    if (m_worker.m_byHand) {
        const double f = frame.count("fraction") ? frame["fraction"].toDouble() : -1;
        std::fprintf(stderr, "progress %5.1f%% %s\n", f < 0 ? 0.0 : f * 100,
            frame["text"].toString().c_str());
        return;
    }
    frame["type"] = "progress";
    frame["id"] = m_id;
    m_worker.sendOrExit(std::move(frame));
}

inline void Call::progress(double fraction, std::string_view text)
{
    json::Object f { { "fraction", fraction } };
    if (!text.empty())
        f["text"] = std::string(text);
    sendProgress(std::move(f), false);
}

inline void Call::progress(int64_t value, int64_t max, std::string_view text)
{
    json::Object f { { "value", value }, { "min", 0 }, { "max", max } };
    if (!text.empty())
        f["text"] = std::string(text);
    sendProgress(std::move(f), false);
}

inline void Call::stage(std::string_view name, int index, int count)
{
    sendProgress(json::Object { { "stage",
                     json::Object { { "name", std::string(name) }, { "index", index },
                         { "count", count } } } },
        true);
}

inline void Call::log(std::string_view text, std::string_view level)
{
    if (m_worker.m_byHand) {
        std::fprintf(stderr, "[%.*s] %.*s\n", int(level.size()), level.data(), int(text.size()),
            text.data());
        return;
    }
    m_worker.sendOrExit(json::Object { { "type", "log" }, { "id", m_id },
        { "level", std::string(level) }, { "text", std::string(text) } });
}

inline int64_t Call::publish(
    json::Value value, std::vector<Buffer> buffers, const std::string &payload)
{
    if (std::any_of(buffers.begin(), buffers.end(), [](const Buffer &b) { return b.isNull(); })
        || buffers.size() > size_t(protocol::maxBuffersPerFrame))
        throw std::invalid_argument("a frame with a null buffer, or more than "
            + std::to_string(protocol::maxBuffersPerFrame));
    const int64_t sequence = ++m_frames;
    if (m_worker.m_byHand) {
        std::fprintf(stderr, "frame %lld: %s\n", static_cast<long long>(sequence),
            json::serialize(value).c_str());
        return sequence;
    }
    flushProgress(); // progress reported before the frame arrives before it
    if (!buffers.empty() && m_worker.m_inIsSocket) {
        // Lent before it is sent: the release can come back before send() returns.
        std::lock_guard lock(m_worker.m_mutex);
        m_worker.m_lent[{ m_id, sequence }] = buffers;
    }
    m_worker.sendOrExit(json::Object { { "type", "frame" }, { "id", m_id }, { "seq", sequence },
                            { "value", std::move(value) } },
        payload, buffers);
    return sequence;
}

inline bool Call::isCancelled()
{
    std::lock_guard lock(m_worker.m_mutex);
    return m_worker.m_cancelled.count(m_id) > 0;
}

inline bool Call::waitCancelled(std::chrono::milliseconds timeout)
{
    std::unique_lock lock(m_worker.m_mutex);
    return m_worker.m_cv.wait_for(
        lock, timeout, [this] { return m_worker.m_cancelled.count(m_id) > 0; });
}

} // namespace offload::worker
