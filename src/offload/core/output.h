// OutputChunk and ProcessInfo: what process-backed tasks report besides progress.
#pragma once

#include <offload/core/export.h>

#include <QByteArray>
#include <QMetaType>
#include <QString>

namespace offload {

// A piece of a task's output: the program's stdout or stderr, or a worker's log line.
struct OutputChunk
{
    enum Stream : quint8 { Stdout, Stderr, Log };
    Stream stream = Stdout;
    QByteArray data;
};

// The process running a task, sampled from /proc (at most twice a second). -1: unknown.
struct ProcessInfo
{
    qint64 pid = -1; // on the machine that location names
    qint64 rssBytes = -1;
    double cpuSeconds = -1;
    QString location; // where it runs: empty for this machine, else e.g. "ssh://user@host"
    friend bool operator==(const ProcessInfo &, const ProcessInfo &) = default;
};

} // namespace offload

Q_DECLARE_METATYPE(offload::OutputChunk)
Q_DECLARE_METATYPE(offload::ProcessInfo)
