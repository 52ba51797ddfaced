// The C++ worker of the shared-memory benchmarks (bench_shm.cpp).
//   "pages":  reads one byte of every page of each buffer it was given (or of its payload),
//             writes it back plus one if args.write, and hands the buffers (or the payload)
//             back; with args.touch false, hands the buffers back unread.
//   "stream": publishes frames of args.size bytes from a pool of 4 buffers until cancelled,
//             each frame written whole (a camera filling it), numbered in its first bytes;
//             args.rate frames a second (a camera's clock), or as fast as buffers come back.
#include <offload/workersdk/worker.h>

#include <chrono>
#include <cstring>
#include <thread>

using offload::worker::Call;
using offload::worker::Result;
namespace json = offload::json;

namespace {
constexpr size_t page = 4096;

int64_t visitPages(std::byte *data, size_t size, bool write)
{
    int64_t sum = 0;
    for (size_t i = 0; i < size; i += page) {
        sum += int64_t(data[i]);
        if (write)
            data[i] = std::byte(uint8_t(data[i]) + 1);
    }
    return sum;
}
} // namespace

int main(int argc, char **argv)
{
    offload::worker::Worker w("shm_worker");
    w.method("pages", [](Call &c) -> Result {
        const bool write = c.args()["write"].toBool();
        if (!c.args()["touch"].toBool(true)) { // the hand-over alone
            Result r(int64_t(0));
            r.buffers = c.buffers();
            return r;
        }
        int64_t sum = 0;
        if (c.buffers().empty()) {
            std::string bytes = c.payload();
            sum = visitPages(reinterpret_cast<std::byte *>(bytes.data()), bytes.size(), write);
            return Result(sum, std::move(bytes));
        }
        for (auto &b : c.buffers()) {
            auto s = b.bytes();
            sum += visitPages(s.data(), s.size(), write);
        }
        Result r(sum);
        r.buffers = c.buffers();
        return r;
    });
    w.method("stream", [](Call &c) -> Result {
        offload::worker::BufferPool pool(c.args()["size"].toInt(4 << 20), 4);
        const int64_t rate = c.args()["rate"].toInt(0);
        auto due = std::chrono::steady_clock::now();
        int64_t n = 0;
        for (;;) {
            if (rate > 0) { // the next frame's time, not a synchronisation
                due += std::chrono::nanoseconds(1'000'000'000 / rate);
                std::this_thread::sleep_until(due);
            }
            offload::worker::Buffer b;
            while ((b = pool.tryAcquire(std::chrono::milliseconds(20))).isNull())
                c.throwIfCancelled();
            c.throwIfCancelled();
            ++n;
            auto s = b.bytes();
            std::memset(s.data(), int(n & 0xff), s.size());
            std::memcpy(s.data(), &n, sizeof n);
            c.publish(json::Object { { "n", n } }, { std::move(b) });
        }
    });
    return w.exec(argc, argv);
}
