// A worker on the C++ SDK for the SDK's own process tests (worker/python/test_offload_worker.py,
// run by CTest as cpp_sdk_processes). Its twin is worker/python/sdk_testworker.py: same
// methods, same answers.
#include <offload/workersdk/worker.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

using offload::worker::Call;
using offload::worker::Result;

int main(int argc, char **argv)
{
    offload::worker::Worker w("sdk_testworker");
    // The arguments as the value and the payload as the payload.
    w.method("echo", [](Call &c) -> Result { return Result(c.args(), c.payload()); });
    // A value of n characters and a payload of n bytes.
    w.method("big", [](Call &c) -> Result {
        const auto n = size_t(c.args()["n"].toInt());
        return Result(std::string(n, 'x'), std::string(n, '\xab'));
    });
    // A stray print (no flush), then waits until the call is cancelled.
    w.method("print_wait", [](Call &c) -> Result {
        std::printf("stray-print-marker\n");
        while (!c.isCancelled())
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
        return "not reached";
    });
    // Prints a marker (flushed), then blocks in waitCancelled() for up to args.seconds.
    w.method("wait_cancel", [](Call &c) -> Result {
        std::printf("wait-marker\n");
        std::fflush(stdout);
        const auto limit
            = std::chrono::milliseconds(int64_t(c.args()["seconds"].toDouble() * 1000));
        return c.waitCancelled(limit) ? "cancelled" : "timed out";
    });
    // Prints a marker to stdout (flushed: the test waits for it), then computes for up to
    // args.seconds without calling into the SDK.
    w.method("spin", [](Call &c) -> Result {
        std::printf("spin-marker\n");
        std::fflush(stdout);
        const auto end = std::chrono::steady_clock::now()
            + std::chrono::duration<double>(c.args()["seconds"].toDouble());
        int64_t n = 0;
        while (std::chrono::steady_clock::now() < end)
            ++n;
        return n;
    });
    return w.exec(argc, argv);
}
