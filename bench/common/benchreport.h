// Benchmark reporting as docs/benchmarks.md describes: per-run figures for ours and the
// peer, medians, the ratio ours/peer with its spread over runs, one JSON object per line.
#pragma once

#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QString>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

namespace bench {

inline double median(std::vector<double> v)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    const size_t n = v.size();
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

inline double percentile(std::vector<double> v, double q)
{
    if (v.empty())
        return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, size_t(q * double(v.size() - 1) + 0.5))];
}

struct Figure
{
    QString suite, name, unit;
    std::vector<double> ours; // one value per run
    std::vector<double> peer; // same length as ours, or empty (no peer)
    QString peerName;
    QString better = QStringLiteral("lower"); // "lower" or "higher"
    QJsonObject extra; // additional machine-readable fields
    // Runs in child processes (bench/common/isolate.h): how many were tried per side, and how
    // many of them crashed, exited non-zero or timed out. attempts == 0: not isolated.
    int attempts = 0, oursFailures = 0, peerFailures = 0;
};

inline QJsonArray toJson(const std::vector<double> &values)
{
    QJsonArray a;
    for (double v : values)
        a.append(v);
    return a;
}

// Prints a readable row on stderr and the JSON line on stdout (scripts/bench collects it).
inline void report(const Figure &f)
{
    QJsonObject o { { QStringLiteral("suite"), f.suite }, { QStringLiteral("name"), f.name },
        { QStringLiteral("unit"), f.unit }, { QStringLiteral("better"), f.better },
        { QStringLiteral("runs"), int(f.ours.size()) } };
    if (f.ours.empty()) { // every run failed: said, not shown as a zero
        o.insert(QStringLiteral("ours"), QJsonValue::Null);
        o.insert(QStringLiteral("peer"), QJsonValue::Null);
        o.insert(QStringLiteral("ratio"), QJsonValue::Null);
        o.insert(QStringLiteral("crashes"),
            QJsonObject { { QStringLiteral("ours"), f.oursFailures },
                { QStringLiteral("peer"), f.peerFailures }, { QStringLiteral("of"), f.attempts } });
        std::fprintf(stderr, "%s %s: no run delivered (failed: ours %d, peer %d of %d)\n",
            qPrintable(f.suite), qPrintable(f.name), f.oursFailures, f.peerFailures, f.attempts);
        std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
        std::fflush(stdout);
        return;
    }
    const double ours = median(f.ours);
    o.insert(QStringLiteral("ours"), ours);
    o.insert(QStringLiteral("ours_runs"), toJson(f.ours)); // both humps, not only the median
    QString row
        = QStringLiteral("%1 %2: ours %3 %4").arg(f.suite, f.name).arg(ours, 0, 'f', 2).arg(f.unit);
    if (!f.peer.empty()) {
        const double peer = median(f.peer);
        std::vector<double> ratios;
        for (size_t i = 0; i < f.ours.size() && i < f.peer.size(); ++i)
            ratios.push_back(f.peer[i] != 0 ? f.ours[i] / f.peer[i] : 0);
        const double ratio = peer != 0 ? ours / peer : 0;
        o.insert(QStringLiteral("peer"), peer);
        o.insert(QStringLiteral("peer_runs"), toJson(f.peer));
        o.insert(QStringLiteral("ratio_runs"), toJson(ratios));
        o.insert(QStringLiteral("peer_name"), f.peerName);
        o.insert(QStringLiteral("ratio"), ratio);
        o.insert(QStringLiteral("spread"),
            ratios.empty() ? QJsonArray {}
                           : QJsonArray { *std::min_element(ratios.begin(), ratios.end()),
                               *std::max_element(ratios.begin(), ratios.end()) });
        row += QStringLiteral(" | peer (%1) %2 %3 | ratio %4 (%5 is better)")
                   .arg(f.peerName)
                   .arg(peer, 0, 'f', 2)
                   .arg(f.unit)
                   .arg(ratio, 0, 'f', 3)
                   .arg(f.better);
    } else {
        o.insert(QStringLiteral("peer"), QJsonValue::Null);
        o.insert(QStringLiteral("ratio"), QJsonValue::Null);
    }
    if (f.attempts > 0) {
        o.insert(QStringLiteral("crashes"),
            QJsonObject { { QStringLiteral("ours"), f.oursFailures },
                { QStringLiteral("peer"), f.peerFailures }, { QStringLiteral("of"), f.attempts } });
        if (f.oursFailures + f.peerFailures > 0)
            row += QStringLiteral(" | failed runs: ours %1, peer %2 of %3")
                       .arg(f.oursFailures)
                       .arg(f.peerFailures)
                       .arg(f.attempts);
    }
    for (auto it = f.extra.begin(); it != f.extra.end(); ++it)
        o.insert(it.key(), it.value());
    std::fprintf(stderr, "%s\n", qPrintable(row));
    std::printf("%s\n", QJsonDocument(o).toJson(QJsonDocument::Compact).constData());
    std::fflush(stdout);
}

} // namespace bench
