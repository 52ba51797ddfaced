#!/usr/bin/env python3
"""histogram: a Slicer Execution Model CLI module in plain Python (standard library only).

Shows: --xml, SEM progress tags printed with print(), typed return parameters. Run it through
`offload module offload-example-histogram.py --count 100000` or any SEM runner."""
import argparse
import random
import sys

DESCRIPTION = """<?xml version="1.0" encoding="utf-8"?>
<executable>
  <category>Offload.Examples</category>
  <title>Random Histogram</title>
  <description>Draws normally distributed samples and counts them into bins.</description>
  <version>1.0</version>
  <parameters>
    <label>Sampling</label>
    <description>How many samples and bins</description>
    <integer>
      <name>count</name>
      <longflag>count</longflag>
      <label>Samples</label>
      <description>Number of samples</description>
      <default>10000</default>
      <constraints><minimum>1</minimum><maximum>100000000</maximum></constraints>
    </integer>
    <integer>
      <name>bins</name>
      <longflag>bins</longflag>
      <label>Bins</label>
      <description>Number of bins between -4 and 4</description>
      <default>8</default>
      <constraints><minimum>1</minimum><maximum>1000</maximum></constraints>
    </integer>
    <integer>
      <name>seed</name>
      <longflag>seed</longflag>
      <label>Seed</label>
      <description>Random seed</description>
      <default>1</default>
    </integer>
    <integer-vector>
      <name>counts</name>
      <label>Counts</label>
      <channel>output</channel>
      <description>Samples per bin</description>
    </integer-vector>
    <double>
      <name>mean</name>
      <label>Mean</label>
      <channel>output</channel>
      <description>Mean of the samples</description>
    </double>
  </parameters>
</executable>
"""


def main():
    if "--xml" in sys.argv[1:]:
        sys.stdout.write(DESCRIPTION)
        return 0
    parser = argparse.ArgumentParser(prog="histogram")
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--bins", type=int, default=8)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--returnparameterfile")
    args = parser.parse_args()

    rng = random.Random(args.seed)
    counts = [0] * args.bins
    total = 0.0
    print("<filter-start><filter-name>Random Histogram</filter-name>"
          "<filter-comment>drawing %d samples</filter-comment></filter-start>" % args.count)
    step = max(1, args.count // 20)
    for i in range(args.count):
        x = rng.gauss(0.0, 1.0)
        total += x
        b = int((x + 4.0) / 8.0 * args.bins)
        counts[min(max(b, 0), args.bins - 1)] += 1
        if (i + 1) % step == 0:
            print("<filter-progress>%.3f</filter-progress>" % ((i + 1) / args.count))
    if args.returnparameterfile:
        with open(args.returnparameterfile, "w") as f:
            f.write("counts = %s\n" % ",".join(str(c) for c in counts))
            f.write("mean = %.9f\n" % (total / args.count))
    print("<filter-end><filter-name>Random Histogram</filter-name></filter-end>")
    return 0


if __name__ == "__main__":
    sys.exit(main())
