// primeworker: a C++ worker (header-only SDK, no Qt) that counts primes with progress and
// honours cancellation. Run by hand: primeworker --call countPrimes '{"limit": 100000}'
#include <offload/workersdk/worker.h>

#include <cmath>

int main(int argc, char **argv)
{
    offload::worker::Worker worker("primeworker");
    worker.method("countPrimes", [](offload::worker::Call &call) -> offload::worker::Result {
        const int64_t limit = call.args()["limit"].toInt(100000);
        int64_t count = 0;
        for (int64_t n = 2; n < limit; ++n) {
            bool prime = true;
            for (int64_t d = 2; d * d <= n && prime; ++d)
                prime = n % d != 0;
            count += prime;
            if (n % 4096 == 0) {
                call.throwIfCancelled();
                call.progress(n, limit, std::to_string(count) + " primes so far");
            }
        }
        return count;
    });
    return worker.exec(argc, argv);
}
