#include <offload/process/sharedbuffer.h>

#include <offload/workersdk/memoryfile.h>

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
    if (d->adopted()) {
        setError(error, "a buffer received from a worker is mapped there too: it cannot be sealed");
        return false;
    }
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
    : m_size(bufferSize), d(std::make_unique<protocol::MemoryFilePool>(bufferSize, maxIdle))
{ }

SharedBufferPool::~SharedBufferPool() = default;

SharedBuffer SharedBufferPool::acquire(QString *error)
{
    std::string why;
    auto file = d->acquire(why);
    if (!file) {
        setError(error, why);
        return {};
    }
    return detail::sharedBufferOf(std::move(file));
}

bool SharedBufferPool::reserve(int count, QString *error)
{
    std::string why;
    if (d->reserve(count, why))
        return true;
    setError(error, why);
    return false;
}

int SharedBufferPool::idleCount() const
{
    return d->idleCount();
}

} // namespace offload
