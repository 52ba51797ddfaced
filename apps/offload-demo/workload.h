// The demo's CPU-bound work: a prime count in stages, reporting progress and honouring cancel.
#pragma once

#include <offload/core/taskcontrol.h>

namespace demo {

struct PrimeJob
{
    qint64 limit = 2'000'000; // count primes below this
    bool failAtEnd = false; // simulate bad input discovered late
};

// Runs on a pool thread. Returns the number of primes below job.limit.
qint64 countPrimes(offload::TaskControl &control, const PrimeJob &job);

} // namespace demo
