// SharedBuffer: bytes in an anonymous memory file, handed to worker processes without copies.
#pragma once

#include <offload/process/export.h>

#include <QMetaType>
#include <QString>

#include <cstddef>
#include <memory>
#include <span>

namespace offload {

namespace protocol {
class MemoryFile;
class MemoryFilePool;
} // namespace protocol
class SharedBuffer;
namespace detail {
SharedBuffer sharedBufferOf(std::shared_ptr<protocol::MemoryFile> file); // received ones
const protocol::MemoryFile *memoryFileOf(const SharedBuffer &buffer);
} // namespace detail

// A block of memory in an anonymous memory file (memfd), mapped in this process. Passed in a
// worker call (or returned in a result), a local worker receives the file itself over its
// socket and maps it: nothing is copied, whatever the size. Copies of a SharedBuffer share
// the same memory (it is not copy-on-write); the memory goes when the last copy, here and in
// every process it was handed to, is gone. No named segment exists that could outlive the
// processes, whatever crashes.
//
// A sealed buffer is read-only for everyone: its file refuses writable mappings, writes and
// resizing, in this process and in every process it reaches.
//
// Thread-safety: a SharedBuffer may be copied, read and dropped on any thread; seal() needs
// the only copy. Ordering writes to the bytes against their readers is the caller's, as for
// any shared memory (a worker call orders them: what was written before submit() is seen by
// the worker, and what the worker wrote before its answer is seen by the callbacks).
class OFFLOAD_PROCESS_EXPORT SharedBuffer
{
public:
    SharedBuffer() = default; // null: no memory

    enum class Fill {
        Lazy, // pages are faulted in on first touch (cheap to create, slower to fill)
        Prefault, // every page is mapped now (costs the faults up front, once)
    };
    // A new zero-filled buffer of `size` bytes (at least 1). Null if the system refuses (no
    // memory, too many open files); *error then says why.
    static SharedBuffer create(qint64 size, Fill fill = Fill::Lazy, QString *error = nullptr);
    // Takes over a memory file received from elsewhere (a worker's answer): checks that fd is
    // a memory file of at least `size` bytes and maps it (read-only if it is sealed). fd is
    // closed on failure too.
    static SharedBuffer adopt(int fd, qint64 size, QString *error = nullptr);

    bool isNull() const { return !d; }
    qint64 size() const;
    bool isSealed() const;

    // The bytes; data() is null for a sealed buffer.
    std::byte *data();
    const std::byte *constData() const;
    std::span<std::byte> bytes();
    std::span<const std::byte> constBytes() const;

    // Makes the buffer read-only for good (see above). Only for a buffer made here with no
    // other copy (none handed out yet; never one received from a worker): false, with *error,
    // otherwise or if the system refuses. The bytes move to a read-only mapping: pointers and spans
    // taken before are invalid after.
    bool seal(QString *error = nullptr);

    // The memory file, to hand over (SCM_RIGHTS); owned by the buffer, valid while it lives.
    int fileDescriptor() const;

private:
    friend SharedBuffer detail::sharedBufferOf(std::shared_ptr<protocol::MemoryFile> file);
    friend const protocol::MemoryFile *detail::memoryFileOf(const SharedBuffer &buffer);
    explicit SharedBuffer(std::shared_ptr<protocol::MemoryFile> file) : d(std::move(file)) { }
    std::shared_ptr<protocol::MemoryFile> d;
};

// Reuses buffers of one size for repeated calls: page faults, not copies, dominate the cost
// of fresh memory (here ~1 GiB/s to fill a new buffer, ~6 GiB/s a prefaulted one). acquire()
// hands out an idle buffer, or a new prefaulted one; when the last copy of a buffer it handed
// out is dropped, here and in the results that brought it back, the buffer returns to the
// pool (at most maxIdle are kept; the rest, and every sealed one, go). The bytes of a reused
// buffer are what its last user left. A worker that keeps a buffer past its answer would see
// the next user's bytes: workers written with the SDKs drop the call's buffers when the call
// ends unless the method keeps them on purpose.
// Thread-safety: every member may be called from any thread. Ownership: buffers handed out
// may outlive the pool; they are then freed when dropped.
class OFFLOAD_PROCESS_EXPORT SharedBufferPool
{
public:
    explicit SharedBufferPool(qint64 bufferSize, int maxIdle = 4);
    ~SharedBufferPool();
    SharedBufferPool(const SharedBufferPool &) = delete;
    SharedBufferPool &operator=(const SharedBufferPool &) = delete;

    // An idle buffer, or a new prefaulted one; null (with *error) if the system refuses.
    SharedBuffer acquire(QString *error = nullptr);
    // Creates buffers until `count` are idle (to pay the faults before the work starts);
    // false (with *error) if the system refuses one.
    bool reserve(int count, QString *error = nullptr);

    qint64 bufferSize() const { return m_size; }
    int idleCount() const;

private:
    qint64 m_size;
    std::unique_ptr<protocol::MemoryFilePool> d;
};

} // namespace offload

Q_DECLARE_METATYPE(offload::SharedBuffer)
