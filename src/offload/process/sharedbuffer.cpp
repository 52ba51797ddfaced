#include <offload/process/sharedbuffer.h>

#include <offload/workersdk/memoryfile.h>

#include <algorithm>
#include <mutex>

namespace offload {

namespace detail {
SharedBuffer sharedBufferOf(std::shared_ptr<protocol::MemoryFile> file)
{
    return SharedBuffer(std::move(file));
}

const protocol::MemoryFile *memoryFileOf(const SharedBuffer &buffer)
{
    return buffer.d.get();
}

// The idle files of a SharedBufferPool. Buffers handed out reach it through a weak pointer
// in their deleter, so they may outlive the pool.
class BufferPoolState
{
public:
    BufferPoolState(qint64 size, int maxIdle) : size(size), maxIdle(maxIdle) { }
    std::unique_ptr<protocol::MemoryFile> take()
    {
        std::lock_guard lock(mutex);
        if (idle.empty())
            return nullptr;
        auto file = std::move(idle.back());
        idle.pop_back();
        return file;
    }
    // Keeps the file if there is room; false if the caller must free it.
    bool giveBack(std::unique_ptr<protocol::MemoryFile> &file)
    {
        if (file->sealed() || !file->address())
            return false;
        std::lock_guard lock(mutex);
        if (int(idle.size()) >= maxIdle)
            return false;
        idle.push_back(std::move(file));
        return true;
    }
    int idleCount()
    {
        std::lock_guard lock(mutex);
        return int(idle.size());
    }
    std::unique_ptr<protocol::MemoryFile> make(QString *error)
    {
        std::string why;
        auto file = protocol::MemoryFile::create(size, true, why);
        if (!file)
            setError(error, why);
        return file;
    }

    const qint64 size;
    const int maxIdle;

private:
    static void setError(QString *error, const std::string &text)
    {
        if (error)
            *error = QString::fromStdString(text);
    }
    std::mutex mutex;
    std::vector<std::unique_ptr<protocol::MemoryFile>> idle;
};
} // namespace detail

namespace {
void setError(QString *error, const std::string &text)
{
    if (error)
        *error = QString::fromStdString(text);
}
} // namespace

SharedBuffer SharedBuffer::create(qint64 size, Fill fill, QString *error)
{
    std::string why;
    auto file = protocol::MemoryFile::create(size, fill == Fill::Prefault, why);
    if (!file) {
        setError(error, why);
        return {};
    }
    return SharedBuffer(std::shared_ptr<protocol::MemoryFile>(std::move(file)));
}

SharedBuffer SharedBuffer::adopt(int fd, qint64 size, QString *error)
{
    std::string why;
    auto file = protocol::MemoryFile::adopt(fd, size, why);
    if (!file) {
        setError(error, why);
        return {};
    }
    return SharedBuffer(std::shared_ptr<protocol::MemoryFile>(std::move(file)));
}

qint64 SharedBuffer::size() const
{
    return d ? d->size() : 0;
}

bool SharedBuffer::isSealed() const
{
    return d && d->sealed();
}

std::byte *SharedBuffer::data()
{
    return d && !d->sealed() ? static_cast<std::byte *>(d->address()) : nullptr;
}

const std::byte *SharedBuffer::constData() const
{
    return d ? static_cast<const std::byte *>(d->address()) : nullptr;
}

std::span<std::byte> SharedBuffer::bytes()
{
    std::byte *p = data();
    return p ? std::span<std::byte>(p, size_t(d->size())) : std::span<std::byte>();
}

std::span<const std::byte> SharedBuffer::constBytes() const
{
    return d && d->address() ? std::span<const std::byte>(constData(), size_t(d->size()))
                             : std::span<const std::byte>();
}

int SharedBuffer::fileDescriptor() const
{
    return d ? d->fd() : -1;
}

bool SharedBuffer::seal(QString *error)
{
    if (!d) {
        setError(error, "a null buffer");
        return false;
    }
    if (d->sealed())
        return true;
    if (d.use_count() != 1) {
        setError(error, "the buffer has other copies: seal it before sharing it");
        return false;
    }
    std::string why;
    if (!d->seal(why)) {
        setError(error, why);
        return false;
    }
    return true;
}

SharedBufferPool::SharedBufferPool(qint64 bufferSize, int maxIdle)
    : m_size(bufferSize), d(std::make_shared<detail::BufferPoolState>(bufferSize, maxIdle))
{ }

SharedBufferPool::~SharedBufferPool() = default;

SharedBuffer SharedBufferPool::acquire(QString *error)
{
    std::unique_ptr<protocol::MemoryFile> file = d->take();
    if (!file)
        file = d->make(error);
    if (!file)
        return {};
    std::weak_ptr<detail::BufferPoolState> pool = d;
    return detail::sharedBufferOf(
        std::shared_ptr<protocol::MemoryFile>(file.release(), [pool](protocol::MemoryFile *raw) {
            std::unique_ptr<protocol::MemoryFile> owned(raw);
            if (auto state = pool.lock())
                (void)state->giveBack(owned);
        }));
}

bool SharedBufferPool::reserve(int count, QString *error)
{
    while (d->idleCount() < std::min(count, d->maxIdle)) {
        auto file = d->make(error);
        if (!file)
            return false;
        if (!d->giveBack(file))
            break; // filled meanwhile by buffers coming back
    }
    return true;
}

int SharedBufferPool::idleCount() const
{
    return d->idleCount();
}

} // namespace offload
