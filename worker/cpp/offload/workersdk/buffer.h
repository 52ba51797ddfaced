// The worker SDK's shared buffers: Buffer (one memory file mapped here) and BufferPool (reused
// buffers of one size, bounded). Header-only, standard C++ and Linux only; included by
// worker.h. Specification: docs/protocol.md, "Shared buffers".
#pragma once

#include "memoryfile.h"

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

namespace offload::worker {

class Worker;

// A shared buffer (offload::SharedBuffer on the application's side): one the pool handed to
// a call (Call::buffers()), or one made here to hand back (Result::buffers). A local worker
// maps the application's memory itself, so nothing is copied; over stdin/stdout the bytes
// came inline and went into a buffer of this worker's. Copies share the memory. Any thread.
class Buffer
{
public:
    Buffer() = default; // null
    // A new zero-filled buffer; throws std::runtime_error if the system refuses.
    static Buffer create(int64_t size, bool prefault = false)
    {
        std::string error;
        auto file = protocol::MemoryFile::create(size, prefault, error);
        if (!file)
            throw std::runtime_error(
                "cannot make a shared buffer of " + std::to_string(size) + " bytes: " + error);
        return Buffer(std::move(file));
    }

    bool isNull() const { return !m_file; }
    int64_t size() const { return m_file ? m_file->size() : 0; }
    // Sealed by whoever made it: read-only for everyone (bytes() is then empty).
    bool isSealed() const { return m_file && m_file->sealed(); }
    std::span<std::byte> bytes()
    {
        return m_file && !m_file->sealed() && m_file->address()
            ? std::span<std::byte>(static_cast<std::byte *>(m_file->address()), size_t(size()))
            : std::span<std::byte>();
    }
    std::span<const std::byte> constBytes() const
    {
        return m_file && m_file->address() ? std::span<const std::byte>(
                   static_cast<const std::byte *>(m_file->address()), size_t(size()))
                                           : std::span<const std::byte>();
    }
    // Its memory file (owned by the buffer), for a system call of the worker's own.
    int fileDescriptor() const { return m_file ? m_file->fd() : -1; }
    // Read-only for good, for everyone; only for a buffer made here and not yet handed back.
    bool seal()
    {
        std::string error;
        return m_file && !m_file->adopted() && m_file.use_count() == 1 && m_file->seal(error);
    }

private:
    friend class Worker;
    friend class BufferPool;
    explicit Buffer(std::shared_ptr<protocol::MemoryFile> file) : m_file(std::move(file)) { }
    std::shared_ptr<protocol::MemoryFile> m_file;
};

// Buffers of one size, reused, for frames published again and again (Call::publish): fresh
// memory costs its page faults. At most maxBuffers exist at once; acquire() hands out an idle
// one or makes a new prefaulted one, and when all are out it waits for one to come back. A
// buffer comes back when its last copy is gone: for a published frame, when the application
// has dropped it, so a stream faster than the application waits here instead of piling up
// memory. The application's thread holds the latest frame until it takes it: use at least 2.
// Not for results: the application keeps a result's buffers as long as it likes and says
// nothing when it lets them go, so a Result carrying one is answered as an error. Any thread.
class BufferPool
{
public:
    explicit BufferPool(int64_t size, int maxBuffers = 4)
        : m_files(size, maxBuffers, maxBuffers) { }
    // Waits as long as it takes; throws std::runtime_error if the system refuses memory.
    Buffer acquire() { return take(std::nullopt); }
    // Null if none came back within wait (check for cancellation and try again).
    Buffer tryAcquire(std::chrono::milliseconds wait) { return take(wait); }
    int64_t bufferSize() const { return m_files.size(); }
    int idleCount() const { return m_files.idleCount(); }

private:
    Buffer take(std::optional<std::chrono::milliseconds> wait)
    {
        std::string error;
        bool timedOut = false;
        auto file = m_files.acquire(error, wait, &timedOut);
        if (!file && timedOut)
            return {};
        if (!file)
            throw std::runtime_error(
                "no shared buffer of " + std::to_string(m_files.size()) + " bytes: " + error);
        return Buffer(std::move(file));
    }
    protocol::MemoryFilePool m_files;
};

} // namespace offload::worker
