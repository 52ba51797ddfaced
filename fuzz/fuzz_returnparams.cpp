// libFuzzer target for the return-parameter parser. Properties: never crashes, and every value
// it returns belongs to a return parameter of the module.
#include <offload/sem/commandline.h>

#include <cstdint>
#include <cstdlib>

namespace {
const offload::sem::Description &description()
{
    static const offload::sem::Description d = *offload::sem::parseDescription(
        "<executable><parameters>"
        "<double><name>volume</name><channel>output</channel></double>"
        "<integer-vector><name>counts</name><channel>output</channel></integer-vector>"
        "<boolean><name>converged</name><channel>output</channel></boolean>"
        "<string><name>label</name><channel>output</channel></string>"
        "</parameters></executable>")
                                                    .description;
    return d;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const auto r = offload::sem::parseReturnParameters(
        QByteArray(reinterpret_cast<const char *>(data), qsizetype(size)), description());
    for (auto it = r.values.begin(); it != r.values.end(); ++it) {
        if (!description().parameter(it.key()))
            std::abort();
    }
    return 0;
}
