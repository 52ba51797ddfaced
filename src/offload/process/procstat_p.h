// Private: resident memory and CPU time of a process, from /proc/<pid>/stat.
#pragma once

#include <offload/core/output.h>

#include <QFile>

#include <unistd.h>

namespace offload::detail {

inline ProcessInfo sampleProcess(qint64 pid)
{
    ProcessInfo info;
    info.pid = pid;
    QFile f(QStringLiteral("/proc/%1/stat").arg(pid));
    if (!f.open(QIODevice::ReadOnly))
        return info;
    const QByteArray stat = f.readAll();
    // Fields after the command name, which is in parentheses and may contain spaces.
    const qsizetype close = stat.lastIndexOf(')');
    if (close < 0)
        return info;
    const QList<QByteArray> fields = stat.mid(close + 2).split(' ');
    // utime and stime are fields 14 and 15 of the whole line (index 11, 12 here); rss is 24.
    if (fields.size() > 21) {
        static const long ticks = ::sysconf(_SC_CLK_TCK);
        static const long page = ::sysconf(_SC_PAGESIZE);
        info.cpuSeconds = double(fields[11].toLongLong() + fields[12].toLongLong()) / double(ticks);
        info.rssBytes = fields[21].toLongLong() * page;
    }
    return info;
}

} // namespace offload::detail
