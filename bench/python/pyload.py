"""The work both sides of the Python benchmarks do, so that they do the same: a pure-Python
loop that reports how far it is at most once a millisecond, and a short nap."""
import os
import time


def burn(seconds, report, interval=0.001):
    """Computes for `seconds`, calling report(fraction) at most once per `interval`; returns
    how many rounds it did (the work done)."""
    start = last = time.monotonic()
    rounds = 0
    while True:
        s = 0
        for k in range(100):
            s += k * k
        rounds += 1
        now = time.monotonic()
        if now - last >= interval:
            report(min(1.0, (now - start) / seconds))
            last = now
        if now - start >= seconds:
            return rounds


def nap(seconds):
    """Sleeps a little and says which process did."""
    time.sleep(seconds)
    return os.getpid()


def echo(value):
    return value
