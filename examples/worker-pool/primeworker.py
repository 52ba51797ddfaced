"""primeworker.py: the same worker in Python with the stdlib-only SDK.
Run by hand: python3 primeworker.py --call countPrimes '{"limit": 100000}'"""
import os
import sys

sys.path.insert(0, os.environ.get("OFFLOAD_PYTHON_SDK", os.path.join(os.path.dirname(__file__), "../../worker/python")))
import offload_worker as ow  # noqa: E402

worker = ow.Worker("primeworker.py")


@worker.method
def countPrimes(call):  # noqa: N802 - the method name the pool calls
    limit = call.args.get("limit", 100000)
    count = 0
    for n in range(2, limit):
        d = 2
        while d * d <= n and n % d:
            d += 1
        count += d * d > n
        if n % 4096 == 0:
            call.raise_if_cancelled()
            call.progress(value=n, maximum=limit, text="%d primes so far" % count)
    return count


if __name__ == "__main__":
    raise SystemExit(worker.run())
