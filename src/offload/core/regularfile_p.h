// Private: reading a file that someone else may have replaced (a return-parameter file a
// module wrote, a sidecar description, a path given on a command line) without ever blocking
// the calling thread: opened non-blocking (a FIFO cannot stall the open or the read),
// optionally without following a symbolic link, checked to be a regular file, and bounded.
// Any thread; no shared state.
#pragma once

#include <offload/core/export.h>

#include <QByteArray>
#include <QString>

namespace offload::detail {

struct RegularFileRead
{
    enum Status {
        Ok,
        Missing, // no such file (not an error for an optional output)
        NotRegular, // a FIFO, socket, device, directory (or a symbolic link when refused)
        TooLarge, // larger than the bound: nothing is returned
        Unreadable, // permissions or an I/O error; see error
    };
    Status status = Missing;
    QByteArray data;
    QString error; // a sentence naming the file and the reason, empty when Ok

    bool ok() const { return status == Ok; }
};

enum class SymlinkPolicy { Follow, Refuse };

// Reads at most maxBytes; a file larger than that gives TooLarge (never a silent truncation).
OFFLOAD_CORE_EXPORT RegularFileRead readRegularFile(
    const QByteArray &path, qint64 maxBytes, SymlinkPolicy symlinks = SymlinkPolicy::Follow);
// The same for a name inside an open directory (openat), so that a directory replaced by a
// symbolic link after it was opened cannot redirect the read.
OFFLOAD_CORE_EXPORT RegularFileRead readRegularFileAt(
    int directoryFd, const QByteArray &name, qint64 maxBytes, SymlinkPolicy symlinks);

} // namespace offload::detail
