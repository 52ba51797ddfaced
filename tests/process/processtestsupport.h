// Helpers shared by the process tests: where the in-tree child programs are, and whether a
// process still exists (checked from outside, as a user would with ps).
#pragma once

#include <offload/process/programrunner.h>
#include <offload/process/workerpool.h>

#include <QCoreApplication>
#include <QDir>
#include <QFile>

#include <csignal>

inline QString binPath(const char *name)
{
    return QCoreApplication::applicationDirPath() + QLatin1Char('/') + QLatin1String(name);
}

// A live process, not a zombie and not gone.
inline bool processExists(qint64 pid)
{
    QFile stat(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!stat.open(QIODevice::ReadOnly))
        return false;
    const QByteArray s = stat.readAll();
    const qsizetype close = s.lastIndexOf(')');
    return close > 0 && close + 2 < s.size() && s.at(close + 2) != 'Z' && s.at(close + 2) != 'X';
}

// Zombie children of this process (a leak of unreaped workers).
inline int zombieChildren()
{
    int zombies = 0;
    const QString self = QString::number(QCoreApplication::applicationPid());
    for (const QString &entry : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool ok = false;
        entry.toLongLong(&ok);
        if (!ok)
            continue;
        QFile stat(QStringLiteral("/proc/%1/stat").arg(entry));
        if (!stat.open(QIODevice::ReadOnly))
            continue;
        const QByteArray s = stat.readAll();
        const qsizetype close = s.lastIndexOf(')');
        if (close < 0)
            continue;
        const QList<QByteArray> f = s.mid(close + 2).split(' ');
        if (f.size() > 1 && f[0] == "Z" && f[1] == self.toUtf8())
            ++zombies;
    }
    return zombies;
}

inline int openFdCount()
{
    return int(QDir(QStringLiteral("/proc/self/fd"))
                   .entryList(QDir::NoDotAndDotDot | QDir::AllEntries | QDir::System)
                   .size());
}

// Mappings of shared buffers' memory files in a process (this one by default), counted by the
// name their files carry: other mappings come and go with threads and allocators.
inline int sharedBufferMappings(qint64 pid = 0)
{
    QFile maps(
        pid > 0 ? QStringLiteral("/proc/%1/maps").arg(pid) : QStringLiteral("/proc/self/maps"));
    if (!maps.open(QIODevice::ReadOnly))
        return -1;
    return int(maps.readAll().count("memfd:offload-buffer"));
}

#ifdef OFFLOAD_SOURCE_DIR
// A pool of one Python worker (tests/process/pyworker.py, the Python SDK of this tree).
inline offload::WorkerPoolSpec pythonWorkerSpec(bool stdio = false)
{
    offload::WorkerPoolSpec spec;
    spec.program = QStringLiteral("/usr/bin/python3");
    spec.arguments = { OFFLOAD_SOURCE_DIR "/tests/process/pyworker.py" };
    spec.environment.insert("OFFLOAD_PYTHON_SDK", OFFLOAD_SOURCE_DIR "/worker/python");
    // A user's machine does not export it: the SDK must not need it (stray prints arrive live).
    spec.environment.remove("PYTHONUNBUFFERED");
    spec.maxWorkers = 1;
    spec.stdioChannel = stdio;
    spec.cancelGrace = std::chrono::milliseconds(500);
    return spec;
}
#endif

// A run of the in-tree testprogram in one of its modes.
inline offload::ProgramSpec testProgramSpec(
    const QByteArrayList &args, offload::ProgressFormat format)
{
    offload::ProgramSpec s;
    s.program = binPath("testprogram");
    s.arguments = args;
    s.progress = format;
    s.cancelGrace = std::chrono::milliseconds(300);
    return s;
}

inline offload::WorkerPoolSpec testWorkerSpec(int maxWorkers = 2)
{
    offload::WorkerPoolSpec spec;
    spec.program = binPath("testworker");
    spec.maxWorkers = maxWorkers;
    spec.cancelGrace = std::chrono::milliseconds(300);
    spec.startTimeout = std::chrono::milliseconds(5000);
    return spec;
}
