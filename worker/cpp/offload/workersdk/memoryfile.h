// Shared buffers of the worker protocol: anonymous memory files (memfd), mapped by each side,
// and sockets that carry their descriptors (SCM_RIGHTS) beside the frames. Header-only,
// standard C++ and Linux only. Shared by the worker SDK and the Offload::Process library
// (offload::SharedBuffer), so both check a received file the same way.
// Specification: docs/protocol.md, "Shared buffers".
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace offload::protocol {

// At most this many buffers travel with one frame, and at most this many received
// descriptors wait for their frame: a peer cannot make the other side hold an unbounded
// number of open files.
inline constexpr int maxBuffersPerFrame = 64;
inline constexpr size_t maxPendingDescriptors = 256;

// One mapping of one memory file; closes and unmaps on destruction. Any thread; not copyable.
class MemoryFile
{
public:
    MemoryFile(const MemoryFile &) = delete;
    MemoryFile &operator=(const MemoryFile &) = delete;
    ~MemoryFile()
    {
        if (m_address != MAP_FAILED)
            ::munmap(m_address, size_t(m_size));
        if (m_fd >= 0)
            ::close(m_fd);
    }

    // A new zero-filled file of size bytes (at least 1), its size sealed from the start (a
    // process it is handed to could otherwise shrink it under this mapping, and touching the
    // lost pages ends the process with SIGBUS), mapped read-write. Null with error set if the
    // system refuses. prefault maps every page now (MAP_POPULATE).
    static std::unique_ptr<MemoryFile> create(int64_t size, bool prefault, std::string &error)
    {
        if (size < 1) {
            error = "a shared buffer holds at least one byte";
            return nullptr;
        }
        std::unique_ptr<MemoryFile> m(new MemoryFile(
            ::memfd_create("offload-buffer", MFD_CLOEXEC | MFD_ALLOW_SEALING), size));
        if (m->m_fd < 0)
            return failed("memfd_create", error);
        if (::ftruncate(m->m_fd, off_t(size)) != 0)
            return failed("ftruncate", error);
        if (::fcntl(m->m_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) != 0)
            return failed("sealing the size", error);
        m->m_address = ::mmap(nullptr, size_t(size), PROT_READ | PROT_WRITE,
            MAP_SHARED | (prefault ? MAP_POPULATE : 0), m->m_fd, 0);
        if (m->m_address == MAP_FAILED)
            return failed("mmap", error);
        m->readIdentity();
        return m;
    }

    // Takes over a received descriptor (closed on failure too): it must be a memory file of
    // at least size bytes whose size cannot change (sealed here if the sender did not, refused
    // if its seals are closed without it). A pipe, a socket, a device or a file on disk is
    // refused before anything maps or reads it. Mapped read-only if it is write-sealed.
    static std::unique_ptr<MemoryFile> adopt(int fd, int64_t size, std::string &error)
    {
        std::unique_ptr<MemoryFile> m(new MemoryFile(fd, size));
        if (fd < 0 || size < 1) {
            error = "no memory file, or a size under one byte";
            return nullptr;
        }
        int seals = ::fcntl(fd, F_GET_SEALS);
        if (seals < 0)
            return failed("not a memory file: F_GET_SEALS", error);
        constexpr int sizeSeals = F_SEAL_SHRINK | F_SEAL_GROW;
        if ((seals & sizeSeals) != sizeSeals) {
            if (::fcntl(fd, F_ADD_SEALS, sizeSeals) != 0)
                return failed("its size can change under the mapping: F_ADD_SEALS", error);
            seals |= sizeSeals;
        }
        struct stat st
        {
        };
        if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < size) {
            error = "the memory file holds " + std::to_string(int64_t(st.st_size))
                + " bytes, not the " + std::to_string(size) + " announced";
            return nullptr;
        }
        // Only F_SEAL_WRITE makes it read-only for everyone: with F_SEAL_FUTURE_WRITE alone the
        // sender's own mapping can still write, and the writable mapping tried here is refused.
        m->m_sealed = (seals & F_SEAL_WRITE) != 0;
        m->m_adopted = true;
        m->m_device = uint64_t(st.st_dev);
        m->m_inode = uint64_t(st.st_ino);
        m->m_address = m->map(m->m_sealed);
        if (m->m_address == MAP_FAILED)
            return failed("mmap", error);
        return m;
    }

    int fd() const { return m_fd; }
    int64_t size() const { return m_size; }
    bool sealed() const { return m_sealed; }
    void *address() const { return m_address == MAP_FAILED ? nullptr : m_address; }
    // Handed out by a MemoryFilePool: it will be sent again, so a receiver may keep it mapped.
    bool pooled() const { return m_pooled; }
    // Received from elsewhere (adopt()): others may map it too.
    bool adopted() const { return m_adopted; }
    // Two descriptors name the same memory file when these agree (a buffer handed back).
    bool sameFileAs(const MemoryFile &other) const { return isFile(other.m_device, other.m_inode); }
    bool isFile(uint64_t device, uint64_t inode) const
    {
        return m_inode != 0 && m_inode == inode && m_device == device;
    }

    // Read-only for good, for everyone: the file refuses writable mappings, writes and
    // further seals, and this process maps it read-only. Needs that no other mapping of it
    // exists elsewhere (none handed out yet). The kernel counts any shared mapping of a
    // writable descriptor as writable, even a read-only one, so this one goes first and the
    // read-only one is made after the seal. On failure it is writable again (or, if even that
    // mapping fails, unmapped: address() is then null).
    bool seal(std::string &error)
    {
        if (m_sealed)
            return true;
        ::munmap(m_address, size_t(m_size));
        const bool sealedNow = ::fcntl(m_fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL) == 0;
        if (!sealedNow)
            failed("F_SEAL_WRITE", error);
        m_sealed = sealedNow;
        m_address = map(sealedNow);
        if (m_address == MAP_FAILED)
            failed("mmap", error); // unmapped: address() is null, the bytes are unreachable
        return sealedNow && m_address != MAP_FAILED;
    }

private:
    friend class MemoryFilePool;
    friend class MappingCache;
    MemoryFile(int fd, int64_t size) : m_fd(fd), m_size(size) { }
    // A sealed file is mapped private and read-only: kernels before 6.7 refuse a shared
    // mapping of a write-sealed file opened read-write (memfds are), even a read-only one,
    // and with nothing able to write it a private mapping never copies.
    void *map(bool readOnly) const
    {
        return ::mmap(nullptr, size_t(m_size), readOnly ? PROT_READ : PROT_READ | PROT_WRITE,
            readOnly ? MAP_PRIVATE : MAP_SHARED, m_fd, 0);
    }
    void readIdentity()
    {
        struct stat st
        {
        };
        if (::fstat(m_fd, &st) == 0) {
            m_device = uint64_t(st.st_dev);
            m_inode = uint64_t(st.st_ino);
        }
    }
    static std::unique_ptr<MemoryFile> failed(const char *what, std::string &error)
    {
        error = std::string(what) + ": " + std::strerror(errno);
        return nullptr;
    }

    int m_fd = -1;
    int64_t m_size = 0;
    void *m_address = MAP_FAILED;
    bool m_sealed = false;
    bool m_pooled = false;
    bool m_adopted = false; // received from the peer, not made here
    uint64_t m_device = 0;
    uint64_t m_inode = 0;
};

// Memory files of one size, reused: page faults, not copies, dominate the cost of fresh
// memory. acquire() hands out an idle file or a new prefaulted one; when the last owner of a
// file it handed out lets go, the file comes back (at most maxIdle wait idle; the rest, and
// every sealed one, are freed). With a limit, at most that many files exist at once and
// acquire() waits for one to come back: back-pressure for a stream whose consumer holds
// them. Files handed out may outlive the pool. Any thread.
class MemoryFilePool
{
public:
    MemoryFilePool(int64_t size, int maxIdle, int limit = 0)
        : m_state(std::make_shared<State>(size, std::max(0, maxIdle), std::max(0, limit)))
    { }

    // Null with error set if the system refuses, or (*timedOut set) if none came back within
    // wait (with a limit; no wait given: as long as it takes).
    std::shared_ptr<MemoryFile> acquire(std::string &error,
        std::optional<std::chrono::milliseconds> wait = std::nullopt, bool *timedOut = nullptr)
    {
        std::unique_ptr<MemoryFile> file;
        {
            std::unique_lock lock(m_state->mutex);
            const auto ready = [&] {
                return !m_state->idle.empty() || m_state->limit == 0
                    || m_state->live < m_state->limit;
            };
            if (!wait)
                m_state->cv.wait(lock, ready);
            else if (!m_state->cv.wait_for(lock, *wait, ready)) {
                error = "all " + std::to_string(m_state->limit) + " buffers are still in use";
                if (timedOut)
                    *timedOut = true;
                return nullptr;
            }
            if (!m_state->idle.empty()) {
                file = std::move(m_state->idle.back());
                m_state->idle.pop_back();
            } else {
                ++m_state->live;
            }
        }
        if (!file) {
            file = MemoryFile::create(m_state->size, true, error);
            if (!file) {
                m_state->forget();
                return nullptr;
            }
            file->m_pooled = true;
        }
        std::weak_ptr<State> pool = m_state;
        return std::shared_ptr<MemoryFile>(file.release(), [pool](MemoryFile *raw) {
            std::unique_ptr<MemoryFile> owned(raw);
            if (auto state = pool.lock())
                state->giveBack(owned);
        });
    }
    // Creates files until count (at most maxIdle, and the limit) are idle, to pay the faults
    // before the work starts; false with error if the system refuses one.
    bool reserve(int count, std::string &error)
    {
        for (;;) {
            {
                std::lock_guard lock(m_state->mutex);
                if (int(m_state->idle.size()) >= std::min(count, m_state->maxIdle)
                    || (m_state->limit > 0 && m_state->live >= m_state->limit))
                    return true;
                ++m_state->live;
            }
            auto file = MemoryFile::create(m_state->size, true, error);
            if (!file) {
                m_state->forget();
                return false;
            }
            m_state->giveBack(file);
        }
    }
    int64_t size() const { return m_state->size; }
    int idleCount() const
    {
        std::lock_guard lock(m_state->mutex);
        return int(m_state->idle.size());
    }

private:
    struct State
    {
        State(int64_t size, int maxIdle, int limit)
            : size(size), maxIdle(limit > 0 ? limit : maxIdle), limit(limit)
        { }
        // A file that can be written again is kept if there is room; otherwise the caller
        // frees it, and one more may be made.
        void giveBack(std::unique_ptr<MemoryFile> &file)
        {
            const bool reusable = !file->sealed() && file->address();
            std::lock_guard lock(mutex);
            if (reusable && int(idle.size()) < maxIdle)
                idle.push_back(std::move(file));
            else
                --live;
            cv.notify_one();
        }
        void forget()
        {
            std::lock_guard lock(mutex);
            --live;
            cv.notify_one();
        }
        const int64_t size;
        const int maxIdle; // with a limit, every file is kept
        const int limit;
        std::mutex mutex;
        std::condition_variable cv;
        std::vector<std::unique_ptr<MemoryFile>> idle;
        int live = 0; // files made and not freed: handed out or idle
    };
    std::shared_ptr<State> m_state;
};

// The mappings of the last few memory files a peer said it would send again ("reuse": the
// buffers of its pool), per connection: such a buffer sent again costs neither a mapping nor
// its page faults (a fault per page costs a microsecond or more; a 256 MiB buffer has 65,536
// pages). At most `capacity` files are kept, the least recently received going first; their
// memory is freed when they go, or with the connection. Any thread.
class MappingCache
{
public:
    static constexpr size_t capacity = 8;

    // The file a received descriptor names: the one kept here (fd closed), or fd adopted
    // (MemoryFile::adopt; kept if reuse).
    std::shared_ptr<MemoryFile> adopt(int fd, int64_t size, bool reuse, std::string &error)
    {
        struct stat st
        {
        };
        if (fd >= 0 && ::fstat(fd, &st) == 0) {
            std::lock_guard lock(m_mutex);
            for (auto it = m_files.begin(); it != m_files.end(); ++it) {
                const auto &f = *it;
                if (f->isFile(uint64_t(st.st_dev), uint64_t(st.st_ino)) && f->m_size == size) {
                    auto found = f;
                    m_files.erase(it);
                    m_files.insert(m_files.begin(), found);
                    ::close(fd);
                    return found;
                }
            }
        }
        std::shared_ptr<MemoryFile> file = MemoryFile::adopt(fd, size, error);
        if (file && reuse) {
            std::lock_guard lock(m_mutex);
            m_files.insert(m_files.begin(), file);
            if (m_files.size() > capacity)
                m_files.pop_back();
        }
        return file;
    }
    void clear()
    {
        std::vector<std::shared_ptr<MemoryFile>> dropped;
        std::lock_guard lock(m_mutex);
        dropped.swap(m_files); // unmapped after the lock
    }

private:
    std::mutex m_mutex;
    std::vector<std::shared_ptr<MemoryFile>> m_files; // most recent first
};

// A buffer as a frame header announces it ("buffers": [{"size", "sealed", "inline",
// "reuse"}]).
struct BufferEntry
{
    int64_t size = 0; // 1 .. 2^48
    bool sealed = false;
    bool isInline = false;
    bool reuse = false; // the sender will send this file again (see MappingCache)
};

// Which of files the descriptor fd names (same memory file and size), or -1.
inline int indexOfFile(const std::vector<const MemoryFile *> &files, int fd, int64_t size)
{
    struct stat st
    {
    };
    if (files.empty() || ::fstat(fd, &st) != 0)
        return -1;
    for (size_t i = 0; i < files.size(); ++i) {
        if (files[i] && files[i]->isFile(uint64_t(st.st_dev), uint64_t(st.st_ino))
            && files[i]->size() == size)
            return int(i);
    }
    return -1;
}

// The buffers of a received frame, in order: descriptors taken from the front of fds (each
// adopted, see MemoryFile::adopt, through cache if given), inline bytes read from payload after its
// first ownSize bytes (each copied into a new memory file, sealed if announced so), which must
// account for the rest of payload exactly. False with error set otherwise; every descriptor taken
// is closed then.
//
// sent: files this side sent in the frame being answered. A descriptor of one of them (a
// buffer handed back) is closed without being mapped again, its entry in out left null and
// its index in sent recorded in sentIndex (-1 for the others).
inline bool takeBuffers(const std::vector<BufferEntry> &entries, const char *payload,
    int64_t payloadSize, int64_t ownSize, std::vector<int> &fds,
    std::vector<std::shared_ptr<MemoryFile>> &out, std::string &error,
    MappingCache *cache = nullptr, const std::vector<const MemoryFile *> &sent = {},
    std::vector<int> *sentIndex = nullptr)
{
    if (entries.size() > size_t(maxBuffersPerFrame)) {
        error = "more than " + std::to_string(maxBuffersPerFrame) + " buffers in one frame";
        return false;
    }
    if (ownSize < 0 || ownSize > payloadSize) {
        error = "\"payload_size\" is not a size within the frame's payload";
        return false;
    }
    int64_t at = ownSize;
    for (const BufferEntry &e : entries) {
        if (e.size < 1 || e.size > (int64_t(1) << 48)) {
            error = "a buffer without a size from one byte to 2^48";
            out.clear();
            return false;
        }
        std::string why;
        std::shared_ptr<MemoryFile> file;
        if (e.isInline) {
            if (e.size > payloadSize - at) {
                error = "an inline buffer of " + std::to_string(e.size)
                    + " bytes past the frame's end";
                out.clear();
                return false;
            }
            file = std::shared_ptr<MemoryFile>(MemoryFile::create(e.size, false, why));
            if (file) {
                std::memcpy(file->address(), payload + at, size_t(e.size));
                at += e.size;
                if (e.sealed && !file->seal(why))
                    file.reset();
            }
        } else {
            if (fds.empty()) {
                error = "a buffer announced without its file descriptor";
                out.clear();
                return false;
            }
            const int fd = fds.front();
            fds.erase(fds.begin());
            const int mine = sentIndex ? indexOfFile(sent, fd, e.size) : -1;
            if (mine >= 0) {
                ::close(fd);
                out.push_back(nullptr);
                sentIndex->push_back(mine);
                continue;
            }
            file = cache ? cache->adopt(fd, e.size, e.reuse, why)
                         : std::shared_ptr<MemoryFile>(MemoryFile::adopt(fd, e.size, why));
        }
        if (!file) {
            error = "a buffer of " + std::to_string(e.size) + " bytes that cannot be used: " + why;
            out.clear();
            return false;
        }
        out.push_back(std::move(file));
        if (sentIndex)
            sentIndex->push_back(-1);
    }
    if (at != payloadSize) {
        error
            = std::to_string(payloadSize - at) + " bytes in the frame that no buffer accounts for";
        out.clear();
        return false;
    }
    return true;
}

// Sends bytes on a Unix socket with descriptors attached to their first byte; the receiver
// gets the descriptors no later than that byte. Returns what send() returns (MSG_NOSIGNAL: a
// vanished peer gives EPIPE, not SIGPIPE).
inline ssize_t sendWithDescriptors(
    int socket, const char *data, size_t size, const int *fds, size_t count, int flags = 0)
{
    iovec iov { const_cast<char *>(data), size };
    msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    std::vector<char> control(CMSG_SPACE(sizeof(int) * count));
    if (count > 0) {
        msg.msg_control = control.data();
        msg.msg_controllen = control.size();
        cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int) * count);
        std::memcpy(CMSG_DATA(c), fds, sizeof(int) * count);
    }
    return ::sendmsg(socket, &msg, MSG_NOSIGNAL | flags);
}

// Reads what a Unix socket has, like recv(), appending the descriptors that came with it to
// fds (close-on-exec). A message whose descriptors did not all fit, or that carried something
// else than descriptors, sets `refused`: what it carried is closed here and the stream can no
// longer be trusted.
inline ssize_t receiveWithDescriptors(
    int socket, char *buffer, size_t size, int flags, std::vector<int> &fds, bool &refused)
{
    iovec iov { buffer, size };
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * maxBuffersPerFrame)];
    msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(socket, &msg, flags | MSG_CMSG_CLOEXEC);
    if (n < 0)
        return n;
    if (msg.msg_flags & MSG_CTRUNC)
        refused = true;
    for (cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) {
            refused = true;
            continue;
        }
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
            int fd;
            std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (refused)
                ::close(fd);
            else
                fds.push_back(fd);
        }
    }
    return n;
}

} // namespace offload::protocol
