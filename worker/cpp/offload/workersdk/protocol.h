// Offload worker protocol v1: frame encoding and an incremental, bounded frame decoder.
// Header-only, standard C++ only. Shared by the worker SDK (which parses headers with
// offload::json) and the Offload::Process library (which parses them with QJsonDocument), so
// both sides frame bytes identically. Specification: docs/protocol.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace offload::protocol {

inline constexpr int version = 1;
inline constexpr int64_t defaultMaxHeader = int64_t(1) << 20; // 1 MiB
inline constexpr int64_t defaultMaxPayload = int64_t(1) << 30; // 1 GiB

// The integer a JSON number (a double) denotes, if int64 holds it exactly: nullopt for a
// fraction, NaN, an infinity or anything outside [-2^63, 2^63). The range is checked before
// converting, since converting a double outside int64's range is undefined behaviour.
inline std::optional<int64_t> exactInt64(double d) noexcept
{
    if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) // also false for NaN
        return std::nullopt;
    const auto i = int64_t(d);
    if (double(i) != d)
        return std::nullopt;
    return i;
}

// A frame header's "size" given as a JSON number: true, with out set, if it is an integer in
// 0..maxPayload. For Traits::parseHeader implementations; both SDKs and the pool must agree.
inline bool payloadSizeFromNumber(double d, int64_t maxPayload, int64_t &out) noexcept
{
    const std::optional<int64_t> n = exactInt64(d);
    if (!n || *n < 0 || *n > maxPayload)
        return false;
    out = *n;
    return true;
}

// uint32 big-endian header length, the header, then the payload. headerJson must already
// carry "size" equal to payload.size() when the payload is not empty.
inline std::string encodeFrame(std::string_view headerJson, std::string_view payload = {})
{
    std::string out;
    out.reserve(4 + headerJson.size() + payload.size());
    const auto n = uint32_t(headerJson.size());
    out += char(n >> 24);
    out += char(n >> 16);
    out += char(n >> 8);
    out += char(n);
    out.append(headerJson).append(payload);
    return out;
}

template<typename Header> struct Frame
{
    Header header;
    std::string payload;
};

// Traits must provide:
//   using Header = ...;
//   static bool parseHeader(std::string_view json, Header &out, int64_t &payloadSize,
//                           std::string &error);
// parseHeader checks that the header is a JSON object with a string "type" and returns its
// "size" (0 if absent or null), which the decoder then bounds by maxPayload. A "size" that is
// not a non-negative integer (1.5, -1, "12", 1e300) must make parseHeader fail: convert the
// number with exactInt64() or payloadSizeFromNumber(), never with a bare cast.
//
// Feed bytes as they arrive and take frames out with next(). Memory is bounded: a length
// over maxHeader or a size over maxPayload is an error before any of it is buffered. Errors
// are final, since a byte stream cannot be resynchronised; error() says what went wrong.
template<typename Traits> class FrameDecoder
{
public:
    using Header = typename Traits::Header;

    explicit FrameDecoder(
        int64_t maxHeader = defaultMaxHeader, int64_t maxPayload = defaultMaxPayload)
        : m_maxHeader(maxHeader), m_maxPayload(maxPayload)
    { }

    void feed(const char *data, size_t size)
    {
        if (!hasError())
            m_buffer.append(data, size);
    }
    bool hasError() const { return !m_error.empty(); }
    const std::string &error() const { return m_error; }
    // Bytes held for an incomplete frame.
    int64_t buffered() const { return int64_t(m_buffer.size() - m_offset); }

    std::optional<Frame<Header>> next()
    {
        if (hasError())
            return std::nullopt;
        const size_t available = m_buffer.size() - m_offset;
        if (m_headerLength < 0) {
            if (available < 4)
                return wait();
            const auto *p = reinterpret_cast<const unsigned char *>(m_buffer.data() + m_offset);
            const uint32_t n
                = (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | p[3];
            if (n < 2 || int64_t(n) > m_maxHeader)
                return fail("frame header length " + std::to_string(n) + " outside 2.."
                    + std::to_string(m_maxHeader));
            m_headerLength = int64_t(n);
        }
        if (!m_header) {
            if (available < 4 + size_t(m_headerLength))
                return wait();
            Header header {};
            int64_t size = 0;
            std::string error;
            const std::string_view json(m_buffer.data() + m_offset + 4, size_t(m_headerLength));
            if (!Traits::parseHeader(json, header, size, error))
                return fail(error);
            if (size < 0 || size > m_maxPayload)
                return fail("frame payload size " + std::to_string(size) + " outside 0.."
                    + std::to_string(m_maxPayload));
            m_payloadSize = size;
            m_header = std::move(header);
        }
        if (available < 4 + size_t(m_headerLength) + size_t(m_payloadSize))
            return wait();
        Frame<Header> out { std::move(*m_header),
            m_buffer.substr(m_offset + 4 + size_t(m_headerLength), size_t(m_payloadSize)) };
        m_offset += 4 + size_t(m_headerLength) + size_t(m_payloadSize);
        m_header.reset();
        m_headerLength = -1;
        m_payloadSize = 0;
        return out;
    }

private:
    std::optional<Frame<Header>> wait()
    {
        // Drop consumed bytes now and then, so the buffer holds at most one partial frame.
        if (m_offset > 0 && (m_offset == m_buffer.size() || m_offset > 65536)) {
            m_buffer.erase(0, m_offset);
            m_offset = 0;
        }
        return std::nullopt;
    }
    std::optional<Frame<Header>> fail(std::string message)
    {
        m_error = std::move(message);
        std::string().swap(m_buffer);
        m_offset = 0;
        return std::nullopt;
    }

    int64_t m_maxHeader;
    int64_t m_maxPayload;
    std::string m_buffer;
    size_t m_offset = 0;
    int64_t m_headerLength = -1;
    int64_t m_payloadSize = 0;
    std::optional<Header> m_header;
    std::string m_error;
};

} // namespace offload::protocol
