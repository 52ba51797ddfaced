#include "workload.h"

#include <cmath>
#include <stdexcept>

namespace demo {

static bool isPrime(qint64 n)
{
    if (n < 2)
        return false;
    if (n % 2 == 0)
        return n == 2;
    const qint64 root = qint64(std::sqrt(double(n)));
    for (qint64 d = 3; d <= root; d += 2) {
        if (n % d == 0)
            return false;
    }
    return true;
}

qint64 countPrimes(offload::TaskControl &control, const PrimeJob &job)
{
    // Two stages so the monitor shows stage changes: lower and upper half of the range.
    constexpr int stages = 2;
    constexpr qint64 reportEvery = 2'000; // a report roughly every few hundred microseconds
    qint64 count = 0;
    control.setProgressRange(0, job.limit);
    for (int stage = 0; stage < stages; ++stage) {
        control.setStage(stage == 0 ? QStringLiteral("lower half") : QStringLiteral("upper half"),
            stage, stages);
        const qint64 from = stage * job.limit / stages;
        const qint64 to = (stage + 1) * job.limit / stages;
        for (qint64 n = from; n < to; ++n) {
            count += isPrime(n) ? 1 : 0;
            if (n % reportEvery == 0) {
                control.throwIfCancellationRequested();
                control.setProgress(n, QStringLiteral("%1 primes so far").arg(count));
            }
        }
    }
    control.setProgress(job.limit, QStringLiteral("%1 primes").arg(count));
    if (job.failAtEnd)
        throw std::invalid_argument("simulated bad input found in the last block");
    return count;
}

} // namespace demo
