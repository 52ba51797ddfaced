// Private: the one non-blocking read loop every process reader on the supervisor thread uses.
#pragma once

#include <cerrno>

#include <sys/types.h>
#include <unistd.h>

namespace offload::detail {

enum class ReadResult { Drained, Eof, Stopped, Busy };

// Reads what fd has, chunk by chunk, into onChunk(const char *, ssize_t) -> bool (false stops).
// Bounded to maxChunks per call so that one chatty process cannot starve the others; Busy
// means there may be more (epoll reports the fd again).
template<typename F> ReadResult readAvailable(int fd, F &&onChunk, int maxChunks = 16)
{
    char buf[65536];
    for (int chunks = 0; chunks < maxChunks;) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return ReadResult::Drained; // EAGAIN (or an error the exit path will explain)
        if (n == 0)
            return ReadResult::Eof;
        ++chunks;
        if (!onChunk(static_cast<const char *>(buf), n))
            return ReadResult::Stopped;
    }
    return ReadResult::Busy;
}

} // namespace offload::detail
