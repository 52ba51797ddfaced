// The example's CPU work, shared by both versions of the pipeline.
#pragma once

#include <offload/core/taskcontrol.h>

#include <QString>

// Counts primes below limit on a pool thread, reporting progress and honouring cancel.
inline qint64 countPrimes(offload::TaskControl &task, qint64 limit)
{
    task.setProgressRange(0, limit);
    qint64 count = 0;
    for (qint64 n = 2; n < limit; ++n) {
        bool prime = true;
        for (qint64 d = 2; d * d <= n && prime; ++d)
            prime = n % d != 0;
        count += prime;
        if (n % 2048 == 0) {
            task.throwIfCancellationRequested();
            task.setProgress(n, QStringLiteral("%1 primes so far").arg(count));
        }
    }
    return count;
}
