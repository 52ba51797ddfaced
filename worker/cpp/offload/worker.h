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
// Threading: a worker is single-threaded; methods run on the main thread, one at a time.
// While a method runs, progress(), log() and isCancelled() read pending messages from the
// pool, so a cancel request is seen at the next of those calls.
#pragma once

#include "json.h"
#include "protocol.h"

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cxxabi.h>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <typeinfo>

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

namespace offload::worker {

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

// A method's answer: a JSON value and optional binary payload.
struct Result
{
    json::Value value;
    std::string payload;
    Result() = default;
    template<typename T, typename = std::enable_if_t<std::is_constructible_v<json::Value, T>>>
    Result(T &&v, std::string bytes = {}) : value(std::forward<T>(v)), payload(std::move(bytes)) {}
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

    // Progress as a fraction in [0, 1] or as value of max; text and stage are optional.
    // Reports closer together than the worker's progress interval (default 5 ms) are merged;
    // the latest is always sent before the answer.
    void progress(double fraction, std::string_view text = {});
    void progress(int64_t value, int64_t max, std::string_view text = {});
    void stage(std::string_view name, int index, int count);
    void log(std::string_view text, std::string_view level = "info");
    bool isCancelled();
    void throwIfCancelled()
    {
        if (isCancelled())
            throw Cancelled();
    }

private:
    friend class Worker;
    Call(Worker &w, int64_t id, std::string method, json::Value args, std::string payload)
        : m_worker(w), m_id(id), m_method(std::move(method)), m_args(std::move(args)), m_payload(std::move(payload))
    {
    }
    void sendProgress(json::Object fields, bool force);
    void flushProgress();
    Worker &m_worker;
    int64_t m_id;
    std::string m_method;
    json::Value m_args;
    std::string m_payload;
    json::Object m_pending; // progress fields merged since the last frame
    std::chrono::steady_clock::time_point m_lastSent{};
};

class Worker
{
public:
    using Handler = std::function<Result(Call &)>;

    explicit Worker(std::string name) : m_name(std::move(name)) {}

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
    int exec(int argc, char **argv)
    {
        std::signal(SIGPIPE, SIG_IGN); // a vanished pool gives EPIPE, answered by exiting
        if (const char *fd = std::getenv("OFFLOAD_WORKER_FD")) {
            m_in = m_out = std::atoi(fd);
            return serve();
        }
        if (const char *stdio = std::getenv("OFFLOAD_WORKER_STDIO"); stdio && *stdio == '1') {
            m_in = 0;
            m_out = ::dup(1);   // frames go to the real stdout...
            ::dup2(2, 1);       // ...and a stray print to stderr, never into the stream
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
    };

    int serve()
    {
        json::Array names;
        for (const auto &[n, h] : m_methods)
            names.push_back(n);
        send(json::Object{{"type", "hello"}, {"protocol", protocol::version}, {"pid", int64_t(::getpid())},
                          {"name", m_name}, {"concurrency", m_concurrency}, {"methods", names}});
        for (;;) {
            while (!m_queue.empty()) {
                Pending p = std::move(m_queue.front());
                m_queue.pop_front();
                run(p);
            }
            if (m_bye || !readFrames(true))
                return m_protocolError.empty() ? 0 : 3;
        }
    }

    // Reads and handles frames; blocking waits for at least one. False on EOF or error.
    bool readFrames(bool blocking)
    {
        char buf[65536];
        if (blocking) {
            // Right after answering, the next call is usually microseconds away: poll briefly
            // before blocking, so a busy worker is not put to sleep between calls.
            const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(100);
            pollfd pfd{m_in, POLLIN, 0};
            while (::poll(&pfd, 1, 0) == 0 && std::chrono::steady_clock::now() < until)
                ;
        }
        for (;;) {
            if (!blocking) {
                pollfd pfd{m_in, POLLIN, 0};
                if (::poll(&pfd, 1, 0) <= 0)
                    return true;
            }
            const ssize_t n = ::read(m_in, buf, sizeof buf);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return false; // the pool closed the channel: exit quietly
            m_decoder.feed(buf, size_t(n));
            bool any = false;
            while (auto frame = m_decoder.next()) {
                handle(*frame);
                any = true;
            }
            if (m_decoder.hasError()) {
                m_protocolError = m_decoder.error();
                std::fprintf(stderr, "offload worker: protocol error: %s\n", m_protocolError.c_str());
                return false;
            }
            if (!blocking || any)
                return true;
        }
    }

    void handle(protocol::Frame<json::Value> &frame)
    {
        const json::Value &h = frame.header;
        const std::string type = h["type"].toString();
        if (type == "call") {
            m_queue.push_back({h["id"].toInt(), h["method"].toString(), h["args"], std::move(frame.payload)});
        } else if (type == "cancel") {
            m_cancelled.insert(h["id"].toInt());
        } else if (type == "ping") {
            send(json::Object{{"type", "pong"}, {"seq", h["seq"]}});
        } else if (type == "bye") {
            m_bye = true;
        } else if (type == "hello") {
            if (h["protocol"].toInt() != protocol::version) {
                std::fprintf(stderr, "offload worker: pool speaks protocol %lld, this worker %d\n",
                             static_cast<long long>(h["protocol"].toInt()), protocol::version);
                std::exit(2);
            }
        }
    }

    static std::string typeName(const std::type_info &t)
    {
        int status = 0;
        char *d = abi::__cxa_demangle(t.name(), nullptr, nullptr, &status);
        std::string s = status == 0 && d ? d : t.name();
        std::free(d);
        return s;
    }

    void run(Pending &p)
    {
        auto it = m_methods.find(p.method);
        if (it == m_methods.end()) {
            sendError(p.id, "no method named '" + p.method + "'", "LookupError");
            return;
        }
        if (m_cancelled.count(p.id)) {
            m_cancelled.erase(p.id);
            send(json::Object{{"type", "error"}, {"id", p.id}, {"cancelled", true}, {"message", "cancelled"}});
            return;
        }
        Call call(*this, p.id, p.method, std::move(p.args), std::move(p.payload));
        m_current = &call;
        try {
            Result r = it->second(call);
            call.flushProgress();
            if (m_cancelled.count(p.id))
                send(json::Object{{"type", "error"}, {"id", p.id}, {"cancelled", true}, {"message", "cancelled"}});
            else
                send(json::Object{{"type", "result"}, {"id", p.id}, {"value", r.value}}, r.payload);
        } catch (const Cancelled &) {
            send(json::Object{{"type", "error"}, {"id", p.id}, {"cancelled", true}, {"message", "cancelled"}});
        } catch (const std::exception &e) {
            call.flushProgress();
            sendError(p.id, e.what(), typeName(typeid(e)));
        } catch (...) {
            const std::type_info *t = abi::__cxa_current_exception_type();
            sendError(p.id, "unknown exception", t ? typeName(*t) : "unknown type");
        }
        m_current = nullptr;
        m_cancelled.erase(p.id);
    }

    void sendError(int64_t id, const std::string &message, const std::string &origin)
    {
        send(json::Object{{"type", "error"}, {"id", id}, {"message", message}, {"origin", origin}});
    }

    void send(json::Object header, const std::string &payload = {})
    {
        if (!payload.empty())
            header["size"] = int64_t(payload.size());
        const std::string frame = protocol::encodeFrame(json::serialize(json::Value(std::move(header))), payload);
        size_t done = 0;
        while (done < frame.size()) {
            const ssize_t n = ::write(m_out, frame.data() + done, frame.size() - done);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                std::exit(0); // the pool is gone
            done += size_t(n);
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
            std::fprintf(stderr, "usage: %s --call METHOD [JSON_ARGS] [--payload-file FILE] | --list\n"
                                 "(started by an Offload worker pool, it speaks the worker protocol)\n", argv[0]);
            return 2;
        }
        Pending p{1, method, {}, {}};
        try {
            p.args = json::parse(args);
        } catch (const json::ParseError &e) {
            std::fprintf(stderr, "invalid JSON arguments: %s\n", e.what());
            return 2;
        }
        if (!payloadFile.empty()) {
            FILE *f = std::fopen(payloadFile.c_str(), "rb");
            if (!f) {
                std::fprintf(stderr, "cannot read %s: %s\n", payloadFile.c_str(), std::strerror(errno));
                return 2;
            }
            char buf[65536];
            size_t n;
            while ((n = std::fread(buf, 1, sizeof buf, f)) > 0)
                p.payload.append(buf, n);
            std::fclose(f);
        }
        m_byHand = true;
        m_in = -1;
        int pipefd[2];
        if (::pipe(pipefd) != 0)
            return 2;
        m_out = pipefd[1]; // answers are decoded from this pipe and printed
        run(p);
        ::close(pipefd[1]);
        std::string bytes;
        char buf[65536];
        ssize_t n;
        while ((n = ::read(pipefd[0], buf, sizeof buf)) > 0)
            bytes.append(buf, size_t(n));
        ::close(pipefd[0]);
        protocol::FrameDecoder<JsonTraits> decoder;
        decoder.feed(bytes.data(), bytes.size());
        int status = 1;
        while (auto f = decoder.next()) {
            const std::string type = f->header["type"].toString();
            if (type == "result") {
                std::printf("%s\n", json::serialize(f->header["value"]).c_str());
                if (!f->payload.empty())
                    std::fprintf(stderr, "(result payload: %zu bytes)\n", f->payload.size());
                status = 0;
            } else if (type == "error") {
                std::fprintf(stderr, "error: %s (%s)\n", f->header["message"].toString().c_str(),
                             f->header["origin"].toString("cancelled").c_str());
            }
        }
        return status;
    }

    std::string m_name;
    std::map<std::string, Handler> m_methods;
    int m_concurrency = 1;
    std::chrono::microseconds m_progressInterval{5000};
    int m_in = -1;
    int m_out = -1;
    bool m_bye = false;
    bool m_byHand = false;
    std::string m_protocolError;
    protocol::FrameDecoder<JsonTraits> m_decoder;
    std::deque<Pending> m_queue;
    std::set<int64_t> m_cancelled;
    Call *m_current = nullptr;
};

inline void Call::sendProgress(json::Object fields, bool force)
{
    for (auto &[k, v] : fields)
        m_pending[k] = std::move(v);
    const auto now = std::chrono::steady_clock::now();
    if (!force && now - m_lastSent < m_worker.m_progressInterval) {
        if (m_worker.m_in >= 0)
            m_worker.readFrames(false);
        return;
    }
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
        std::fprintf(stderr, "progress %5.1f%% %s\n", f < 0 ? 0.0 : f * 100, frame["text"].toString().c_str());
        return;
    }
    frame["type"] = "progress";
    frame["id"] = m_id;
    m_worker.send(std::move(frame));
    if (m_worker.m_in >= 0)
        m_worker.readFrames(false);
}

inline void Call::progress(double fraction, std::string_view text)
{
    json::Object f{{"fraction", fraction}};
    if (!text.empty())
        f["text"] = std::string(text);
    sendProgress(std::move(f), false);
}

inline void Call::progress(int64_t value, int64_t max, std::string_view text)
{
    json::Object f{{"value", value}, {"min", 0}, {"max", max}};
    if (!text.empty())
        f["text"] = std::string(text);
    sendProgress(std::move(f), false);
}

inline void Call::stage(std::string_view name, int index, int count)
{
    sendProgress(json::Object{{"stage", json::Object{{"name", std::string(name)}, {"index", index}, {"count", count}}}}, true);
}

inline void Call::log(std::string_view text, std::string_view level)
{
    if (m_worker.m_byHand) {
        std::fprintf(stderr, "[%.*s] %.*s\n", int(level.size()), level.data(), int(text.size()), text.data());
        return;
    }
    m_worker.send(json::Object{{"type", "log"}, {"id", m_id}, {"level", std::string(level)}, {"text", std::string(text)}});
}

inline bool Call::isCancelled()
{
    if (m_worker.m_in >= 0)
        m_worker.readFrames(false);
    return m_worker.m_cancelled.count(m_id) > 0;
}

} // namespace offload::worker
