// In-tree child program for the process tests: a worker built on the C++ SDK whose methods
// behave well or badly on request, and whose start-up can be broken with --mode.
#include <offload/workersdk/worker.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include <sys/mman.h>
#include <unistd.h>

using offload::worker::Call;
using offload::worker::Result;
namespace json = offload::json;

namespace {

void sleepMs(int64_t ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

int channelFd()
{
    const char *fd = std::getenv("OFFLOAD_WORKER_FD");
    return fd ? std::atoi(fd) : 1;
}

void writeRaw(const std::string &bytes)
{
    [[maybe_unused]] auto n = ::write(channelFd(), bytes.data(), bytes.size());
}

// Start-up failure modes, before the SDK says hello.
int runMode(const std::string &mode)
{
    if (mode == "no-hello") {
        sleepMs(60'000);
        return 0;
    }
    if (mode == "exit-before-hello") {
        std::fprintf(stderr, "testworker: refusing to start\n");
        return 3;
    }
    if (mode == "garbage-hello") { // bytes that are no frame, instead of hello
        writeRaw("this is not a frame at all, just text on the channel\n");
        sleepMs(60'000);
        return 0;
    }
    if (mode == "close-after-call") { // hello, then at the first call closes its channel, alive
        const bool stdio = std::getenv("OFFLOAD_WORKER_STDIO") != nullptr;
        const int in = stdio ? 0 : channelFd();
        writeRaw(offload::protocol::encodeFrame(R"({"type":"hello","protocol":1})"));
        // The pool's hello is 33 bytes; anything past it is the first call.
        const std::string hello
            = offload::protocol::encodeFrame(R"({"protocol":1,"type":"hello"})");
        size_t got = 0;
        char buf[4096];
        while (got <= hello.size()) {
            const ssize_t n = ::read(in, buf, sizeof buf);
            if (n <= 0)
                return 4;
            got += size_t(n);
        }
        ::close(in);
        ::close(stdio ? 1 : in);
        sleepMs(60'000);
        return 0;
    }
    if (mode == "wrong-version") {
        writeRaw(offload::protocol::encodeFrame(R"({"type":"hello","protocol":99,"pid":1})"));
        sleepMs(60'000);
        return 0;
    }
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc == 3 && std::strcmp(argv[1], "--mode") == 0)
        return runMode(argv[2]);

    offload::worker::Worker w("testworker");
    if (const char *depth = std::getenv("TESTWORKER_PIPELINE"))
        w.setPipelineDepth(std::atoi(depth));

    w.method("echo", [](Call &c) -> Result { return Result(c.args(), c.payload()); });
    w.method("add",
        [](Call &c) -> Result { return c.args()["a"].toDouble() + c.args()["b"].toDouble(); });
    w.method("pid", [](Call &) -> Result { return int64_t(::getpid()); });
    w.method("progress", [](Call &c) -> Result {
        const int64_t steps = c.args()["steps"].toInt(10);
        c.stage("counting", 0, 1);
        for (int64_t i = 1; i <= steps; ++i) {
            c.progress(i, steps, "step " + std::to_string(i));
            if (c.args()["sleepMs"].isNumber())
                sleepMs(c.args()["sleepMs"].toInt());
        }
        return steps;
    });
    w.method("log", [](Call &c) -> Result {
        c.log("first line");
        std::printf("to stdout\n");
        std::fflush(stdout);
        std::fprintf(stderr, "to stderr\n");
        c.log("second line", "warning");
        return true;
    });
    w.method("fail", [](Call &) -> Result { throw std::invalid_argument("bad input value"); });
    // Cooperative: stops when cancelled.
    w.method("sleep", [](Call &c) -> Result {
        const auto end = std::chrono::steady_clock::now()
            + std::chrono::milliseconds(c.args()["ms"].toInt(1000));
        while (std::chrono::steady_clock::now() < end) {
            c.throwIfCancelled();
            sleepMs(1);
        }
        return int64_t(::getpid());
    });
    // Ignores cancel messages and SIGTERM: only SIGKILL stops it. The stage says it has
    // started: a cancel that arrives before the call is taken is answered (not ignored).
    w.method("stubborn", [](Call &c) -> Result {
        std::signal(SIGTERM, SIG_IGN);
        c.stage("stubborn", 0, 1);
        sleepMs(c.args()["ms"].toInt(60'000));
        return true;
    });
    w.method("crash", [](Call &c) -> Result {
        const std::string how = c.args()["how"].toString();
        std::fprintf(stderr, "about to crash: %s\n", how.c_str());
        std::fflush(stderr);
        // With a marker file: crash only on the first attempt (for the retry policy).
        if (c.args()["onceMarker"].isString()) {
            const std::string marker = c.args()["onceMarker"].toString();
            if (std::ifstream(marker).good())
                return "survived";
            std::ofstream(marker) << "x";
        }
        if (how == "segfault") {
            std::signal(SIGSEGV, SIG_DFL); // a sanitizer's handler would turn it into an abort
            std::raise(SIGSEGV);
        } else if (how == "abort")
            std::abort();
        else if (how == "sigkill")
            std::raise(SIGKILL);
        else if (how == "exit")
            std::_Exit(7);
        return "no crash";
    });
    // Closes its end of the channel and stays alive: it can never answer.
    w.method("closeChannel", [](Call &) -> Result {
        ::close(channelFd());
        sleepMs(60'000);
        return false;
    });
    // Stops itself (SIGSTOP): alive, but it will never send anything again.
    w.method("wedge", [](Call &) -> Result {
        std::raise(SIGSTOP);
        return false;
    });
    // Answers, then leaves on its own with code 0 (as a worker that recycles itself does).
    w.method("answerAndExit", [](Call &c) -> Result {
        writeRaw(offload::protocol::encodeFrame(
            "{\"type\":\"result\",\"id\":" + std::to_string(c.id()) + ",\"value\":\"bye\"}"));
        std::_Exit(0);
    });
    // Sends a frame whose call id is not an integer.
    w.method("fractionalId", [](Call &c) -> Result {
        writeRaw(offload::protocol::encodeFrame(
            "{\"type\":\"result\",\"id\":" + std::to_string(c.id()) + ".5,\"value\":1}"));
        sleepMs(60'000);
        return false;
    });
    // A log line that belongs to no call, then the answer.
    w.method("workerLog", [](Call &c) -> Result {
        writeRaw(offload::protocol::encodeFrame(R"({"type":"log","text":"worker-wide line"})"));
        return c.id() > 0;
    });
    // Writes bytes that break the protocol, then waits to be killed.
    w.method("garbage", [](Call &c) -> Result {
        const std::string kind = c.args()["kind"].toString();
        const auto id = std::to_string(c.id());
        if (kind == "truncated") {
            writeRaw(std::string("\x00\x00\x00\x40{\"type\":\"res", 16));
            std::_Exit(0);
        } else if (kind == "huge-length") {
            writeRaw(std::string("\xff\xff\xff\xff", 4));
        } else if (kind == "invalid-json") {
            writeRaw(offload::protocol::encodeFrame("{\"type\":\"result\",\"id\":" + id + ",}"));
        } else if (kind == "non-utf8") {
            writeRaw(offload::protocol::encodeFrame(
                "{\"type\":\"result\",\"id\":" + id + ",\"value\":\"\xff\xfe\"}"));
        } else if (kind == "unknown-type") {
            writeRaw(offload::protocol::encodeFrame("{\"type\":\"surprise\",\"id\":" + id + "}"));
        } else if (kind == "unknown-id") {
            writeRaw(offload::protocol::encodeFrame(R"({"type":"result","id":987654,"value":1})"));
        } else if (kind == "not-object") {
            writeRaw(offload::protocol::encodeFrame("[1,2,3]"));
        } else if (kind == "huge-numbers") { // valid JSON, absurd values: clamped, not fatal
            writeRaw(offload::protocol::encodeFrame("{\"type\":\"progress\",\"id\":" + id
                + ",\"min\":-1e300,\"max\":1e300,\"value\":1e300}"));
            return true;
        } else if (kind == "huge-payload") {
            writeRaw(offload::protocol::encodeFrame(
                "{\"type\":\"result\",\"id\":" + id + ",\"size\":4000000000000}"));
        }
        sleepMs(60'000);
        return false;
    });
    // Streams of frames. "stream": publishes `count` frames of `size` bytes from a pool of
    // `buffers` (frame i filled with the byte i % 251), or frames until cancelled if count is
    // 0; answers how many it published and how many distinct buffers it used.
    w.method("stream", [](Call &c) -> Result {
        const int64_t count = c.args()["count"].toInt(0);
        offload::worker::BufferPool pool(
            c.args()["size"].toInt(4096), int(c.args()["buffers"].toInt(4)));
        std::set<const std::byte *> distinct;
        int64_t i = 0;
        while (count == 0 || i < count) {
            offload::worker::Buffer b;
            while ((b = pool.tryAcquire(std::chrono::milliseconds(20))).isNull())
                c.throwIfCancelled();
            c.throwIfCancelled();
            ++i;
            std::memset(b.bytes().data(), int(i % 251), b.bytes().size());
            distinct.insert(b.constBytes().data());
            c.publish(json::Object { { "i", i } }, { std::move(b) });
        }
        return json::Object { { "published", i }, { "distinct", int64_t(distinct.size()) } };
    });
    // Shared buffers. "touch": reads a byte of every page of every buffer it was given (their
    // sum and sizes are the answer), writes `write` (a byte) into every byte of each writable
    // one if asked, and hands them all back.
    w.method("touch", [](Call &c) -> Result {
        json::Array sizes, sealed;
        int64_t sum = 0;
        const int64_t value = c.args()["write"].toInt(-1);
        for (auto &b : c.buffers()) {
            const auto bytes = b.constBytes();
            for (size_t i = 0; i < bytes.size(); i += 4096)
                sum += int64_t(bytes[i]);
            sizes.push_back(b.size());
            sealed.push_back(b.isSealed());
            if (value >= 0 && !b.isSealed())
                std::memset(b.bytes().data(), int(value), b.bytes().size());
        }
        Result r(json::Object { { "sizes", sizes }, { "sealed", sealed }, { "sum", sum } });
        r.buffers = c.buffers();
        return r;
    });
    // A buffer of its own: `size` bytes of `byte`, sealed if asked.
    w.method("make", [](Call &c) -> Result {
        auto b = offload::worker::Buffer::create(c.args()["size"].toInt(1));
        std::memset(b.bytes().data(), int(c.args()["byte"].toInt(0)), b.bytes().size());
        if (c.args()["seal"].toBool() && !b.seal())
            throw std::runtime_error("could not seal");
        Result r(true);
        r.buffers.push_back(std::move(b));
        return r;
    });
    // A result that carries a BufferPool's buffer: refused by the SDK.
    w.method("pooledResult", [](Call &) -> Result {
        offload::worker::BufferPool pool(4096, 2);
        Result r(true);
        r.buffers.push_back(pool.acquire());
        return r;
    });
    // Where each buffer it was given is mapped here (a buffer sent again from a pool keeps its
    // mapping).
    w.method("where", [](Call &c) -> Result {
        json::Array at;
        for (auto &b : c.buffers())
            at.push_back(int64_t(reinterpret_cast<uintptr_t>(b.constBytes().data()) >> 12));
        return at;
    });
    // Whether a sealed buffer's file takes a writable mapping or a write (it must not).
    w.method("tryWrite", [](Call &c) -> Result {
        json::Array answers;
        for (auto &b : c.buffers()) {
            const int fd = b.fileDescriptor();
            void *p = ::mmap(nullptr, size_t(b.size()), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
            const bool mapped = p != MAP_FAILED;
            if (mapped)
                ::munmap(p, size_t(b.size()));
            const bool wrote = ::pwrite(fd, "x", 1, 0) == 1;
            answers.push_back(json::Object {
                { "mapped", mapped }, { "wrote", wrote }, { "spanEmpty", b.bytes().empty() } });
        }
        return answers;
    });
    // Hostile answers about buffers, written by hand.
    w.method("badBuffers", [](Call &c) -> Result {
        const std::string kind = c.args()["kind"].toString();
        const auto id = std::to_string(c.id());
        const int fd = channelFd();
        const std::string frame = offload::protocol::encodeFrame("{\"type\":\"result\",\"id\":" + id
            + ",\"value\":1,\"payload_size\":0,\"buffers\":[{\"size\":4096}]}");
        int pipeFds[2] = { -1, -1 };
        if (::pipe(pipeFds) != 0)
            throw std::runtime_error("pipe");
        if (kind == "pipe") { // a pipe where a memory file belongs
            offload::protocol::sendWithDescriptors(fd, frame.data(), frame.size(), pipeFds, 1);
        } else if (kind == "missing") { // a buffer announced, no descriptor sent
            writeRaw(frame);
        } else if (kind == "stray") { // descriptors no frame names, many of them
            const std::string log = offload::protocol::encodeFrame(R"({"type":"log","text":"-"})");
            for (int i = 0; i < 150; ++i)
                offload::protocol::sendWithDescriptors(fd, log.data(), log.size(), pipeFds, 2);
            writeRaw(frame);
        } else if (kind == "short") { // a memory file smaller than announced
            auto small = offload::worker::Buffer::create(100);
            const int smallFd = small.fileDescriptor();
            offload::protocol::sendWithDescriptors(fd, frame.data(), frame.size(), &smallFd, 1);
        } else if (kind == "inline-past-end") {
            writeRaw(offload::protocol::encodeFrame("{\"type\":\"result\",\"id\":" + id
                    + ",\"value\":1,\"payload_size\":0,\"size\":10,"
                      "\"buffers\":[{\"size\":4096,\"inline\":true}]}",
                std::string(10, 'x')));
        }
        sleepMs(60'000);
        return false;
    });
    return w.exec(argc, argv);
}
