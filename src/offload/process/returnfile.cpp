#include "returnfile_p.h"

#include <offload/core/regularfile_p.h>
#include <offload/process/programrunner.h>

#include <QDir>
#include <QFile>
#include <QFileInfo>

#include <cstdlib>

#include <fcntl.h>
#include <unistd.h>

namespace offload::detail {

namespace {

constexpr qint64 maxReturnFileBytes = qint64(16) << 20;

QByteArray returnFilePath(const QByteArray &returnDir)
{
    return returnDir + "/returnparameters.txt";
}

// Return-parameter directories are named after the process that made them, so that one left
// behind by a process that was killed can be recognised and removed later.
QByteArray returnDirPrefix()
{
    return QFile::encodeName(QDir::tempPath()) + "/offload-return-";
}

} // namespace

// On the supervisor thread when a runner is made: removes the return-parameter directories
// of Offload processes that no longer exist (only the file we put there, then the directory).
void removeStaleReturnDirs()
{
    const QDir tmp(QDir::tempPath());
    for (const QString &name :
        tmp.entryList({ QStringLiteral("offload-return-*") }, QDir::Dirs | QDir::NoSymLinks)) {
        const QStringList parts = name.split(QLatin1Char('-')); // offload, return, PID, XXXXXX
        bool ok = false;
        const qint64 pid = parts.size() == 4 ? parts[2].toLongLong(&ok) : 0;
        if (!ok || pid <= 0 || pid == ::getpid()
            || QFileInfo::exists(QStringLiteral("/proc/%1").arg(pid)))
            continue;
        const QByteArray dir = QFile::encodeName(tmp.filePath(name));
        ::unlink((dir + "/returnparameters.txt").constData());
        ::rmdir(dir.constData()); // fails if anything else is in it: left alone
    }
}

// Reads the return-parameter file (never blocking, bounded) and removes the private
// directory. A file that is there but cannot be taken as it is gives an error sentence.
std::optional<QByteArray> collectReturnFile(QByteArray &returnDir, QString *problem)
{
    if (returnDir.isEmpty())
        return std::nullopt;
    std::optional<QByteArray> text;
    // The directory itself may have been replaced (by a symbolic link elsewhere): opened
    // without following, and everything below done relative to it.
    const int dir = ::open(returnDir.constData(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dir < 0) {
        if (problem)
            *problem
                = QStringLiteral("the return-parameter directory %1 was replaced by something else")
                      .arg(QFile::decodeName(returnDir));
        ::unlink(returnDir.constData()); // a link or file where our directory was
        returnDir.clear();
        return text;
    }
    const QByteArray name = "returnparameters.txt";
    const RegularFileRead file
        = readRegularFileAt(dir, name, maxReturnFileBytes, SymlinkPolicy::Refuse);
    if (file.ok())
        text = file.data;
    else if (file.status != RegularFileRead::Missing && problem)
        *problem = QStringLiteral("the return-parameter file %1%2")
                       .arg(QFile::decodeName(returnFilePath(returnDir)),
                           file.error.mid(file.error.indexOf(QLatin1Char(':'))));
    ::unlinkat(dir, name.constData(), 0); // whatever it is (a FIFO too); never followed
    ::close(dir);
    ::rmdir(returnDir.constData()); // fails if the program left more files: they stay, as its own
    returnDir.clear();
    return text;
}

// Creates the 0700 directory and puts its file into the arguments; false with errno on failure.
bool prepareReturnFile(QByteArray &returnDir, QByteArrayList &arguments)
{
    QByteArray pattern = returnDirPrefix() + QByteArray::number(::getpid()) + "-XXXXXX";
    if (!::mkdtemp(pattern.data())) // mkdtemp creates the directory with mode 0700
        return false;
    returnDir = pattern;
    const QByteArray file = returnFilePath(returnDir);
    bool placed = false;
    for (QByteArray &arg : arguments) {
        if (arg == ProgramSpec::returnParameterFilePlaceholder) {
            arg = file;
            placed = true;
        }
    }
    if (!placed)
        arguments << QByteArrayLiteral("--returnparameterfile") << file;
    return true;
}

} // namespace offload::detail
