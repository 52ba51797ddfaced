// SharedBuffer on its own: memory files, their seals, and what adopting a received one checks.
#include <offload/process/sharedbuffer.h>

#include "processtestsupport.h"

#include <QFile>
#include <QTemporaryFile>
#include <QTest>

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

using namespace offload;

namespace {
void fill(SharedBuffer &b, unsigned char seed)
{
    auto bytes = b.bytes();
    for (size_t i = 0; i < bytes.size(); ++i)
        bytes[i] = std::byte((i + seed) & 0xff);
}

bool holds(const SharedBuffer &b, unsigned char seed)
{
    const auto bytes = b.constBytes();
    for (size_t i = 0; i < bytes.size(); ++i) {
        if (bytes[i] != std::byte((i + seed) & 0xff))
            return false;
    }
    return !bytes.empty();
}
} // namespace

class tst_SharedBuffer : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void aNewBufferIsZeroedWritableAndSized();
    void anEmptyOrNegativeSizeIsRefused();
    void copiesAndAdoptedFilesShareTheBytes();
    void aSealedBufferRefusesWritesEverywhere();
    void onlyTheOnlyCopyCanBeSealed();
    void adoptRefusesWhatIsNotAMemoryFileOfTheAnnouncedSize();
    void adoptFixesTheSizeOfAnUnsealedFile();
    void tenThousandCyclesLeaveNoFileOrMappingBehind();
    void aPoolHandsTheSameMemoryBackOutWhenReleased();
    void aPoolKeepsAtMostMaxIdleAndNoSealedBuffer();
    void poolBuffersOutliveThePool();
};

void tst_SharedBuffer::aNewBufferIsZeroedWritableAndSized()
{
    for (auto fillMode : { SharedBuffer::Fill::Lazy, SharedBuffer::Fill::Prefault }) {
        QString error;
        SharedBuffer b = SharedBuffer::create(3 * 4096 + 5, fillMode, &error);
        QVERIFY2(!b.isNull(), qPrintable(error));
        QCOMPARE(b.size(), 3 * 4096 + 5);
        QVERIFY(!b.isSealed());
        QVERIFY(b.data() != nullptr);
        QVERIFY(b.fileDescriptor() >= 0);
        for (std::byte c : b.constBytes())
            QCOMPARE(c, std::byte(0));
        fill(b, 7);
        QVERIFY(holds(b, 7));
        // Its size is sealed from the start: a receiver cannot shrink it under this mapping.
        QCOMPARE(::ftruncate(b.fileDescriptor(), 0), -1);
        QCOMPARE(errno, EPERM);
    }
    QVERIFY(SharedBuffer().isNull());
    QCOMPARE(SharedBuffer().size(), 0);
    QVERIFY(SharedBuffer().constBytes().empty());
}

void tst_SharedBuffer::anEmptyOrNegativeSizeIsRefused()
{
    for (qint64 size : { qint64(0), qint64(-1) }) {
        QString error;
        QVERIFY(SharedBuffer::create(size, SharedBuffer::Fill::Lazy, &error).isNull());
        QVERIFY(!error.isEmpty());
    }
}

void tst_SharedBuffer::copiesAndAdoptedFilesShareTheBytes()
{
    SharedBuffer b = SharedBuffer::create(64 * 1024);
    QVERIFY(!b.isNull());
    SharedBuffer copy = b;
    QString error;
    SharedBuffer other = SharedBuffer::adopt(::fcntl(b.fileDescriptor(), F_DUPFD_CLOEXEC, 0),
        b.size(), &error); // as a worker would map it
    QVERIFY2(!other.isNull(), qPrintable(error));
    QVERIFY(other.constData() != b.constData()); // a mapping of its own
    fill(b, 42);
    QVERIFY(holds(copy, 42));
    QVERIFY(holds(other, 42));
    fill(other, 9); // and back
    QVERIFY(holds(b, 9));
}

void tst_SharedBuffer::aSealedBufferRefusesWritesEverywhere()
{
    SharedBuffer b = SharedBuffer::create(2 * 4096);
    fill(b, 3);
    QString error;
    QVERIFY2(b.seal(&error), qPrintable(error));
    QVERIFY(b.isSealed());
    QVERIFY(b.data() == nullptr);
    QVERIFY(b.bytes().empty());
    QVERIFY(holds(b, 3)); // the bytes stayed
    const int fd = b.fileDescriptor();
    // Nobody can map it writable, write it or resize it any more.
    void *writable = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    QCOMPARE(writable, MAP_FAILED);
    QCOMPARE(errno, EPERM);
    QCOMPARE(::pwrite(fd, "x", 1, 0), ssize_t(-1));
    QCOMPARE(errno, EPERM);
    QCOMPARE(::ftruncate(fd, 1), -1);
    // A receiver sees it sealed, and maps it read-only.
    SharedBuffer received = SharedBuffer::adopt(::fcntl(fd, F_DUPFD_CLOEXEC, 0), b.size(), &error);
    QVERIFY2(!received.isNull(), qPrintable(error));
    QVERIFY(received.isSealed());
    QVERIFY(received.data() == nullptr);
    QVERIFY(holds(received, 3));
    QVERIFY(b.seal()); // sealing twice is no error
}

void tst_SharedBuffer::onlyTheOnlyCopyCanBeSealed()
{
    SharedBuffer b = SharedBuffer::create(4096);
    SharedBuffer copy = b;
    QString error;
    QVERIFY(!b.seal(&error));
    QVERIFY(error.contains(QStringLiteral("other copies")));
    QVERIFY(!b.isSealed());
    QVERIFY(b.data() != nullptr);
    copy = {};
    QVERIFY(b.seal());
    QVERIFY(!SharedBuffer().seal());
}

void tst_SharedBuffer::adoptRefusesWhatIsNotAMemoryFileOfTheAnnouncedSize()
{
    const int fdsBefore = openFdCount();
    QString error;
    // A pipe (a FIFO would be the same): never read, never mapped.
    int pipeFds[2];
    QCOMPARE(::pipe2(pipeFds, O_CLOEXEC), 0);
    QVERIFY(SharedBuffer::adopt(pipeFds[0], 10, &error).isNull());
    QVERIFY2(error.contains(QStringLiteral("not a memory file")), qPrintable(error));
    ::close(pipeFds[1]);
    // A file on disk.
    QTemporaryFile file;
    QVERIFY(file.open());
    file.write(QByteArray(8192, 'x'));
    file.flush();
    QVERIFY(SharedBuffer::adopt(::fcntl(file.handle(), F_DUPFD_CLOEXEC, 0), 10, &error).isNull());
    // A memory file smaller than announced: mapping it would end in SIGBUS past its end.
    SharedBuffer small = SharedBuffer::create(4096);
    QVERIFY(
        SharedBuffer::adopt(::fcntl(small.fileDescriptor(), F_DUPFD_CLOEXEC, 0), 1 << 20, &error)
            .isNull());
    QVERIFY2(error.contains(QStringLiteral("not the 1048576 announced")), qPrintable(error));
    // A memory file whose size could change, and whose seals are closed.
    const int open = ::memfd_create("open-size", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    QCOMPARE(::ftruncate(open, 4096), 0);
    QCOMPARE(::fcntl(open, F_ADD_SEALS, F_SEAL_SEAL), 0);
    QVERIFY(SharedBuffer::adopt(open, 4096, &error).isNull());
    QVERIFY2(error.contains(QStringLiteral("size can change")), qPrintable(error));
    // Nothing given and a size under one byte.
    QVERIFY(SharedBuffer::adopt(-1, 10).isNull());
    QVERIFY(SharedBuffer::adopt(::fcntl(small.fileDescriptor(), F_DUPFD_CLOEXEC, 0), 0).isNull());
    // Every descriptor handed over was closed, refused or not.
    small = {};
    QCOMPARE(openFdCount(), fdsBefore + 1); // the temporary file's own
}

void tst_SharedBuffer::adoptFixesTheSizeOfAnUnsealedFile()
{
    const int fd = ::memfd_create("unsealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    QCOMPARE(::ftruncate(fd, 8192), 0);
    const int keep = ::fcntl(fd, F_DUPFD_CLOEXEC, 0); // the sender's own
    QString error;
    SharedBuffer b = SharedBuffer::adopt(fd, 8192, &error);
    QVERIFY2(!b.isNull(), qPrintable(error));
    QVERIFY(!b.isSealed());
    QCOMPARE(::ftruncate(keep, 0), -1); // the sender cannot shrink it under us any more
    QCOMPARE(errno, EPERM);
    ::close(keep);
}

void tst_SharedBuffer::tenThousandCyclesLeaveNoFileOrMappingBehind()
{
    { // warm-up: whatever the first use allocates once
        SharedBuffer b = SharedBuffer::create(4096);
    }
    const int fds = openFdCount();
    const int maps = sharedBufferMappings();
    for (int i = 0; i < 10000; ++i) {
        SharedBuffer b = SharedBuffer::create(4096 * (1 + i % 4));
        b.bytes()[0] = std::byte(i & 0xff);
        SharedBuffer other
            = SharedBuffer::adopt(::fcntl(b.fileDescriptor(), F_DUPFD_CLOEXEC, 0), b.size());
        QVERIFY(!other.isNull());
        QCOMPARE(other.constBytes()[0], std::byte(i & 0xff));
        if (i % 3 == 0)
            QVERIFY(SharedBuffer(b).seal() == false); // a copy exists: refused, nothing kept
    }
    QCOMPARE(openFdCount(), fds);
    QCOMPARE(sharedBufferMappings(), maps);
}

void tst_SharedBuffer::aPoolHandsTheSameMemoryBackOutWhenReleased()
{
    SharedBufferPool pool(1 << 20, 2);
    QCOMPARE(pool.bufferSize(), 1 << 20);
    QCOMPARE(pool.idleCount(), 0);
    const std::byte *first = nullptr;
    {
        SharedBuffer a = pool.acquire();
        QVERIFY(!a.isNull());
        QCOMPARE(a.size(), 1 << 20);
        fill(a, 4);
        first = a.constData();
        SharedBuffer copy = a;
        a = {};
        QCOMPARE(pool.idleCount(), 0); // a copy still holds it
    }
    QCOMPARE(pool.idleCount(), 1);
    SharedBuffer again = pool.acquire();
    QCOMPARE(pool.idleCount(), 0);
    QCOMPARE(again.constData(), first); // the same mapping, its faults already paid
    QVERIFY(holds(again, 4)); // with what its last user left
    SharedBuffer other = pool.acquire(); // none idle: a new one
    QVERIFY(other.constData() != first);
    QVERIFY(pool.reserve(2));
    QCOMPARE(pool.idleCount(), 2);
}

void tst_SharedBuffer::aPoolKeepsAtMostMaxIdleAndNoSealedBuffer()
{
    const int before = sharedBufferMappings();
    {
        SharedBufferPool pool(8192, 2);
        {
            std::vector<SharedBuffer> out;
            for (int i = 0; i < 5; ++i)
                out.push_back(pool.acquire());
            QCOMPARE(sharedBufferMappings(), before + 5);
        }
        QCOMPARE(pool.idleCount(), 2);
        QCOMPARE(sharedBufferMappings(), before + 2);
        SharedBuffer s = pool.acquire();
        QVERIFY(s.seal());
        s = {};
        QCOMPARE(pool.idleCount(), 1); // a sealed buffer cannot be written again: freed
        QCOMPARE(sharedBufferMappings(), before + 1);
    }
    QCOMPARE(sharedBufferMappings(), before);
}

void tst_SharedBuffer::poolBuffersOutliveThePool()
{
    const int before = sharedBufferMappings();
    SharedBuffer kept;
    {
        SharedBufferPool pool(4096, 4);
        kept = pool.acquire();
        fill(kept, 9);
    }
    QVERIFY(holds(kept, 9));
    QCOMPARE(sharedBufferMappings(), before + 1);
    kept = {};
    QCOMPARE(sharedBufferMappings(), before);
}

QTEST_GUILESS_MAIN(tst_SharedBuffer)
#include "tst_sharedbuffer.moc"
