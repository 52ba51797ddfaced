// libFuzzer target for the SEM tag scanner. Properties: never crashes, output is never longer
// than the input, and feeding the input in chunks gives the same output and progress as
// feeding it whole.
#include <offload/process/semtagscanner.h>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const size_t chunk = data[0] % 13 + 1;
    const char *text = reinterpret_cast<const char *>(data + 1);
    const qint64 n = qint64(size - 1);

    QByteArray whole, split;
    offload::SemTagScanner a([&](const QByteArray &t) { whole += t; });
    offload::SemTagScanner b([&](const QByteArray &t) { split += t; });
    a.feed(text, n);
    a.finish();
    for (qint64 i = 0; i < n; i += qint64(chunk))
        b.feed(text + i, std::min<qint64>(qint64(chunk), n - i));
    b.finish();
    if (whole.size() > n || whole != split || a.progress().progress != b.progress().progress
        || a.progress().name != b.progress().name || a.progress().comment != b.progress().comment)
        std::abort();
    return 0;
}
