#include "regularfile_p.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace offload::detail {

namespace {
RegularFileRead failure(RegularFileRead::Status status, const QByteArray &path, const QString &why)
{
    RegularFileRead r;
    r.status = status;
    r.error = QStringLiteral("%1: %2").arg(QString::fromLocal8Bit(path), why);
    return r;
}

QString errnoText(int e)
{
    return QString::fromLocal8Bit(std::strerror(e));
}

const char *typeName(mode_t mode)
{
    if (S_ISFIFO(mode))
        return "a FIFO";
    if (S_ISSOCK(mode))
        return "a socket";
    if (S_ISDIR(mode))
        return "a directory";
    if (S_ISCHR(mode) || S_ISBLK(mode))
        return "a device";
    if (S_ISLNK(mode))
        return "a symbolic link";
    return "not a regular file";
}
} // namespace

RegularFileRead readRegularFile(const QByteArray &path, qint64 maxBytes, SymlinkPolicy symlinks)
{
    return readRegularFileAt(AT_FDCWD, path, maxBytes, symlinks);
}

RegularFileRead readRegularFileAt(
    int directoryFd, const QByteArray &path, qint64 maxBytes, SymlinkPolicy symlinks)
{
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    int flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    if (symlinks == SymlinkPolicy::Refuse)
        flags |= O_NOFOLLOW;
    const int fd = ::openat(directoryFd, path.constData(), flags);
    if (fd < 0) {
        const int e = errno;
        if (e == ENOENT)
            return failure(RegularFileRead::Missing, path, QStringLiteral("no such file"));
        if (e == ELOOP && symlinks == SymlinkPolicy::Refuse)
            return failure(RegularFileRead::NotRegular, path,
                QStringLiteral("is a symbolic link, which is refused here"));
        return failure(RegularFileRead::Unreadable, path, errnoText(e));
    }
    struct Closer
    {
        int fd;
        ~Closer() { ::close(fd); }
    } closer { fd };
    struct stat st
    {
    };
    if (::fstat(fd, &st) != 0)
        return failure(RegularFileRead::Unreadable, path, errnoText(errno));
    if (!S_ISREG(st.st_mode))
        return failure(RegularFileRead::NotRegular, path,
            QStringLiteral("is %1, not a regular file").arg(QLatin1String(typeName(st.st_mode))));
    if (st.st_size > maxBytes)
        return failure(RegularFileRead::TooLarge, path,
            QStringLiteral("is %1 bytes, more than the %2 allowed").arg(st.st_size).arg(maxBytes));
    RegularFileRead r;
    r.data.resize(qsizetype(st.st_size));
    qint64 got = 0;
    // A regular file never blocks; it may still grow while read: read up to the bound + 1.
    for (;;) {
        if (got == r.data.size()) {
            if (got > maxBytes)
                break;
            r.data.resize(
                qsizetype(std::min<qint64>(maxBytes + 1, std::max<qint64>(got * 2, 4096))));
        }
        const ssize_t n = ::read(fd, r.data.data() + got, size_t(r.data.size() - got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return failure(RegularFileRead::Unreadable, path, errnoText(errno));
        if (n == 0)
            break;
        got += n;
    }
    if (got > maxBytes)
        return failure(RegularFileRead::TooLarge, path,
            QStringLiteral("grew past the %1 bytes allowed while being read").arg(maxBytes));
    r.data.truncate(qsizetype(got));
    r.status = RegularFileRead::Ok;
    return r;
}

} // namespace offload::detail
