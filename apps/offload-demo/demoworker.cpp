// offload-demo-worker: the demo's worker process (C++ SDK, no Qt). Counts primes like the
// thread tasks do, so the two kinds of task can be compared side by side in the monitor.
#include <offload/workersdk/worker.h>

#include <cmath>
#include <stdexcept>
#include <vector>

int main(int argc, char **argv)
{
    offload::worker::Worker worker("offload-demo-worker");
    worker.method("countPrimes", [](offload::worker::Call &call) -> offload::worker::Result {
        const int64_t limit = call.args()["limit"].toInt(1000000);
        std::vector<char> scratch(size_t(limit / 64 + 1)); // some resident memory to show
        int64_t count = 0;
        call.stage("trial division", 0, 1);
        for (int64_t n = 2; n < limit; ++n) {
            bool prime = n == 2 || n % 2;
            for (int64_t d = 3; prime && d * d <= n; d += 2)
                prime = n % d != 0;
            count += prime;
            if (n % 2000 == 0) {
                scratch[size_t(n / 64)] = 1;
                call.throwIfCancelled();
                call.progress(n, limit, std::to_string(count) + " primes so far");
            }
        }
        if (call.args()["fail"].toBool())
            throw std::runtime_error("simulated worker failure");
        return count;
    });
    return worker.exec(argc, argv);
}
