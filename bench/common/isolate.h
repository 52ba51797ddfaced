// Measurements in child processes, so that a side that crashes (ours or a peer's) is counted
// instead of taking the suite down: the executable runs itself with "--one ARGS...", and the
// child prints its result as the last line of stdout, one JSON object.
#pragma once

#include "benchreport.h"

#include <QCoreApplication>
#include <QFileInfo>
#include <QJsonDocument>
#include <QJsonObject>
#include <QProcess>

#include <chrono>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

namespace bench {

// True in a child; args then holds what follows "--one".
inline bool isChild(QStringList &args)
{
    const QStringList all = QCoreApplication::arguments();
    if (all.size() < 2 || all.at(1) != QLatin1String("--one"))
        return false;
    args = all.mid(2);
    return true;
}

// In a child: the result, as the last line of stdout.
inline void printResult(const QJsonObject &result)
{
    std::printf("%s\n", QJsonDocument(result).toJson(QJsonDocument::Compact).constData());
    std::fflush(stdout);
}

// Runs one measurement in a child of this executable. A crash, a non-zero exit, a timeout
// or a missing result counts one failure in `failures` and gives nothing.
inline std::optional<QJsonObject> inChild(const QStringList &args, int &failures,
    std::chrono::milliseconds timeout = std::chrono::minutes(3))
{
    QProcess p;
    p.setProcessChannelMode(QProcess::ForwardedErrorChannel);
    p.start(
        QCoreApplication::applicationFilePath(), QStringList { QStringLiteral("--one") } + args);
    const bool ended = p.waitForFinished(int(timeout.count()));
    if (!ended) {
        p.kill();
        p.waitForFinished(5000);
    }
    if (!ended || p.exitStatus() != QProcess::NormalExit || p.exitCode() != 0) {
        ++failures;
        std::fprintf(stderr, "%s: the run \"%s\" %s\n",
            qPrintable(QFileInfo(QCoreApplication::applicationFilePath()).fileName()),
            qPrintable(args.join(QLatin1Char(' '))),
            !ended                                       ? "timed out"
                : p.exitStatus() != QProcess::NormalExit ? "crashed"
                                                         : "exited non-zero");
        return std::nullopt;
    }
    const auto lines = p.readAllStandardOutput().trimmed().split('\n');
    const auto doc = QJsonDocument::fromJson(lines.last());
    if (!doc.isObject()) {
        ++failures;
        return std::nullopt;
    }
    return doc.object();
}

// Runs per figure: BENCH_ROUNDS, else 7 (2 with OFFLOAD_BENCH_QUICK).
inline int rounds()
{
    if (qEnvironmentVariableIntValue("BENCH_ROUNDS") > 0)
        return qEnvironmentVariableIntValue("BENCH_ROUNDS");
    return qEnvironmentVariableIntValue("OFFLOAD_BENCH_QUICK") ? 2 : 7;
}

// rounds() rounds of a measurement, each side in its own child ("--one MEASUREMENT ours|peer"),
// alternating who goes first; only rounds where both sides delivered are compared. Records
// the attempts and failures on every figure and returns the pairs of results (ours, peer).
inline std::vector<std::pair<QJsonObject, QJsonObject>> measureIsolated(
    const QString &measurement, const std::vector<Figure *> &figures)
{
    std::vector<std::pair<QJsonObject, QJsonObject>> pairs;
    int oursFailed = 0, peerFailed = 0;
    const int n = rounds();
    for (int r = 0; r < n; ++r) {
        std::optional<QJsonObject> o, p;
        if (r % 2 == 0) {
            o = inChild({ measurement, QStringLiteral("ours") }, oursFailed);
            p = inChild({ measurement, QStringLiteral("peer") }, peerFailed);
        } else {
            p = inChild({ measurement, QStringLiteral("peer") }, peerFailed);
            o = inChild({ measurement, QStringLiteral("ours") }, oursFailed);
        }
        if (o && p)
            pairs.emplace_back(*o, *p);
    }
    for (Figure *f : figures) {
        f->attempts = n;
        f->oursFailures = oursFailed;
        f->peerFailures = peerFailed;
    }
    return pairs;
}

} // namespace bench
