// Private: frames that carry shared buffers (docs/protocol.md, "Shared buffers"). A buffer
// travels as its memory file's descriptor beside the frame where the channel can carry one
// (a local worker's socket, when the worker said "fd_passing" in its hello), else inline:
// its bytes after the frame's own payload. The header says which, buffer by buffer.
#pragma once

#include <offload/process/sharedbuffer.h>

#include <QByteArray>
#include <QJsonObject>
#include <QString>

#include <memory>
#include <string>
#include <vector>

namespace offload::protocol {
class MappingCache;
}

namespace offload::detail {

struct BufferFrame
{
    std::string bytes;
    std::vector<SharedBuffer> descriptors; // to attach to the frame's first byte, in order
};

// header and payload as a frame with buffers; inline unless passDescriptors.
BufferFrame encodeFrameWithBuffers(QJsonObject header, const QByteArray &payload,
    const std::vector<SharedBuffer> &buffers, bool passDescriptors);

// The buffers a received frame announces: descriptors taken from the front of fds, inline
// bytes cut from the end of payload (which keeps the frame's own payload). A descriptor of
// the same memory file as one of `sent` (a buffer handed back) comes out as that buffer, with
// its mapping; one the worker will send again is mapped through `cache`. Every buffer made
// here holds `token` until its last copy is dropped. False with error set if the frame and
// what came with it disagree; descriptors taken are closed either way.
bool takeFrameBuffers(const QJsonObject &header, QByteArray &payload, std::vector<int> &fds,
    std::vector<SharedBuffer> &out, QString &error, protocol::MappingCache *cache,
    const std::vector<SharedBuffer> &sent = {}, const std::shared_ptr<void> &token = {});

} // namespace offload::detail
