// Worker for the process benchmarks (C++ SDK): an empty call, and CPU-bound work that streams
// progress about 1000 times a second until cancelled.
#include <offload/workersdk/worker.h>

#include <chrono>
#include <cmath>
#include <cstdlib>

int main(int argc, char **argv)
{
    offload::worker::Worker w("bench_worker");
    w.setProgressInterval(std::chrono::milliseconds(1)); // the load is defined as 1000 messages/s
    if (const char *depth = std::getenv("BENCH_PIPELINE"))
        w.setPipelineDepth(std::atoi(depth));
    w.method("noop", [](offload::worker::Call &) -> offload::worker::Result { return nullptr; });
    // When the worker saw the call, on the monotonic clock both processes share.
    w.method("stamp", [](offload::worker::Call &) -> offload::worker::Result {
        return double(std::chrono::duration_cast<std::chrono::nanoseconds>(
            std::chrono::steady_clock::now().time_since_epoch())
                          .count());
    });
    // Stuck in a loop that never looks at cancellation (bounded at 60 s): only a kill stops it.
    w.method("spin", [](offload::worker::Call &) -> offload::worker::Result {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        volatile double acc = 0;
        while (std::chrono::steady_clock::now() < end)
            for (int i = 0; i < 1000; ++i)
                acc = acc + std::sqrt(double(i) + acc);
        return nullptr;
    });
    w.method("burn", [](offload::worker::Call &call) -> offload::worker::Result {
        int64_t slices = 0;
        volatile double acc = 0;
        while (!call.isCancelled()) {
            const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
            while (std::chrono::steady_clock::now() < end)
                for (int i = 0; i < 200; ++i)
                    acc = acc + std::sqrt(double(i) + acc);
            ++slices;
            call.progress(slices % 1000000, 1000000);
        }
        throw offload::worker::Cancelled();
    });
    return w.exec(argc, argv);
}
