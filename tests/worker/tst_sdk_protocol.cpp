// The C++ worker SDK's frame decoder and JSON numbers, without Qt and without a process:
// what a frame header's "size" and a call's "id" may be (docs/protocol.md, "Frames").
#include <offload/workersdk/worker.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

namespace {

int failures = 0;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            std::fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);          \
            ++failures;                                                                            \
        }                                                                                          \
    } while (0)

using Decoder = offload::protocol::FrameDecoder<offload::worker::JsonTraits>;

// Decodes one frame whose header is {"type":"call","size":<sizeText>} followed by `payload`.
bool decodes(
    const std::string &sizeText, const std::string &payload = {}, int64_t maxPayload = 1 << 20)
{
    const std::string header = R"({"type":"call","size":)" + sizeText + "}";
    const std::string bytes = offload::protocol::encodeFrame(header, payload);
    Decoder d(1 << 20, maxPayload);
    d.feed(bytes.data(), bytes.size());
    auto f = d.next();
    if (f)
        return f->payload == payload;
    if (!d.hasError())
        std::fprintf(stderr, "size %s: neither a frame nor an error\n", sizeText.c_str());
    return false;
}

void frameSizes()
{
    CHECK(decodes("0"));
    CHECK(decodes("null"));
    CHECK(decodes("3", "abc"));
    CHECK(decodes("3.0", "abc")); // JSON does not tell 3 from 3.0; neither does the pool's parser
    CHECK(decodes("1048576", std::string(1 << 20, 'p')));
    for (const char *bad : { "1e300", "-1e300", "-1", "1.5", "-0.5", "\"12\"", "true", "[]", "{}",
             "9.3e18", "9223372036854775808", "1e19", "1048577" }) {
        if (decodes(bad))
            std::fprintf(stderr, "size %s was accepted\n", bad);
        CHECK(!decodes(bad));
    }
}

// Frames arrive in whatever pieces the kernel hands over: every split gives the same frames.
void shortReads()
{
    std::string stream;
    stream += offload::protocol::encodeFrame(R"({"type":"ping","seq":1})");
    stream += offload::protocol::encodeFrame(R"({"type":"call","id":2,"size":3})", "abc");
    stream += offload::protocol::encodeFrame(
        R"({"type":"call","id":3,"args":")" + std::string(70000, 'a') + "\"}");
    stream += offload::protocol::encodeFrame(
        R"({"type":"result","id":4,"size":70001})", std::string(70001, '\0'));
    for (const size_t chunk :
        { size_t(1), size_t(3), size_t(4095), size_t(65536), stream.size() }) {
        Decoder d;
        std::vector<offload::protocol::Frame<offload::json::Value>> got;
        for (size_t i = 0; i < stream.size(); i += chunk) {
            d.feed(stream.data() + i, std::min(chunk, stream.size() - i));
            while (auto f = d.next())
                got.push_back(std::move(*f));
        }
        CHECK(!d.hasError());
        CHECK(got.size() == 4);
        if (got.size() != 4)
            continue;
        CHECK(got[0].header["seq"].toInt() == 1);
        CHECK(got[1].payload == "abc");
        CHECK(got[2].header["args"].toString().size() == 70000);
        CHECK(got[3].payload == std::string(70001, '\0'));
        CHECK(d.buffered() == 0);
    }
}

void integerConversions()
{
    namespace json = offload::json;
    namespace protocol = offload::protocol;
    // Converting a double outside int64's range is undefined behaviour: the checks come first.
    CHECK(json::Value(1e300).toInt(-7) == -7);
    CHECK(json::Value(-1e300).toInt(-7) == -7);
    CHECK(json::Value(9223372036854775808.0).toInt(-7) == -7);
    CHECK(json::Value(std::numeric_limits<double>::quiet_NaN()).toInt(-7) == -7);
    CHECK(json::Value(std::numeric_limits<double>::infinity()).toInt(-7) == -7);
    CHECK(json::Value(1.5).toInt() == 1); // in range: truncated, as before
    CHECK(json::Value(-9223372036854775807.0 - 1).toInt() == std::numeric_limits<int64_t>::min());

    CHECK(!json::Value(1.5).toExactInt());
    CHECK(!json::Value(1e300).toExactInt());
    CHECK(!json::Value("1").toExactInt());
    CHECK(json::Value(3.0).toExactInt() == 3);
    CHECK(json::Value(-4).toExactInt() == -4);

    CHECK(protocol::exactInt64(1e300) == std::nullopt);
    CHECK(protocol::exactInt64(std::nan("")) == std::nullopt);
    CHECK(protocol::exactInt64(-0.0) == 0);
    CHECK(protocol::exactInt64(9007199254740992.0) == int64_t(9007199254740992));

    // Call ids: positive integers up to 2^53.
    CHECK(offload::worker::callId(json::Value(1)) == 1);
    CHECK(offload::worker::callId(json::Value(9007199254740992.0)) == int64_t(9007199254740992));
    for (const json::Value &bad :
        { json::Value(1.5), json::Value(-1), json::Value(0), json::Value("1"), json::Value(1e300),
            json::Value(true), json::Value(), json::Value(18014398509481984.0) })
        CHECK(!offload::worker::callId(bad));
}

} // namespace

int main()
{
    frameSizes();
    shortReads();
    integerConversions();
    if (failures)
        std::fprintf(stderr, "%d check(s) failed\n", failures);
    else
        std::printf("all checks passed\n");
    return failures ? 1 : 0;
}
