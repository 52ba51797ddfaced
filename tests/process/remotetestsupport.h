// Helpers shared by the launcher tests (ssh, Slurm): the processes of a user, and the
// in-tree programs as a remote launcher must start them.
#pragma once

#include "processtestsupport.h"

#include <QDir>
#include <QFile>

#include <sys/types.h>
#include <sys/utsname.h>

// The payloads no parameter value may use to run a command over there.
inline const QByteArrayList hostileWords = { "a;touch /tmp/offload-pwned",
    "$(touch /tmp/offload-pwned)", "`touch /tmp/offload-pwned`", "it's", "\"double\"", "two words",
    "line\nbreak", "dos\r\nline", "", "é ü 日本", QByteArray("\xff\xfe invalid utf-8"),
    "back\\slash", "$HOME", "*", "~", "=x", "a'b\"c$d`e", "--option", "-", "%s", "!" };

inline QByteArray framed(const QByteArrayList &words)
{
    QByteArray out;
    for (const QByteArray &w : words)
        out += '[' + w + ']';
    return out;
}

// Processes of the testbed's remote user that are alive (not zombies).
inline QList<qint64> processesOf(uid_t uid)
{
    QList<qint64> pids;
    for (const QString &entry : QDir(QStringLiteral("/proc")).entryList(QDir::Dirs)) {
        bool ok = false;
        const qint64 pid = entry.toLongLong(&ok);
        QFile status(QStringLiteral("/proc/%1/status").arg(entry));
        if (!ok || !status.open(QIODevice::ReadOnly))
            continue;
        for (const QByteArray &line : status.readAll().split('\n'))
            if (line.startsWith("Uid:") && line.simplified().split(' ').value(1).toUInt() == uid
                && processExists(pid))
                pids << pid;
    }
    return pids;
}

// How many of them have needle in their command line.
inline int countMatching(uid_t uid, const QByteArray &needle)
{
    int n = 0;
    for (qint64 pid : processesOf(uid)) {
        QFile cmd(QStringLiteral("/proc/%1/cmdline").arg(pid));
        if (cmd.open(QIODevice::ReadOnly) && cmd.readAll().replace('\0', ' ').contains(needle))
            ++n;
    }
    return n;
}

// A program of this build, to run over there. Built with ThreadSanitizer, it needs ASLR off
// (as scripts/test runs ctest under setarch -R), which the remote login does not inherit.
inline QString remoteBinary(const char *name, QByteArrayList *arguments)
{
#ifdef __SANITIZE_THREAD__
    utsname u {};
    ::uname(&u);
    *arguments = QByteArrayList { QByteArray(u.machine), "-R", QFile::encodeName(binPath(name)) }
        + *arguments;
    return QStringLiteral("/usr/bin/setarch");
#else
    Q_UNUSED(arguments);
    return binPath(name);
#endif
}
