// libFuzzer target for the SEM description parser. Properties: never crashes, and whatever it
// accepts has non-empty, unique parameter names and consistent constraints.
#include <offload/sem/semdescription.h>

#include <QSet>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const auto r = offload::sem::parseDescription(QByteArray(reinterpret_cast<const char *>(data), qsizetype(size)));
    if (!r.ok()) {
        if (r.error.isEmpty())
            std::abort(); // a failure must say why
        return 0;
    }
    QSet<QString> names;
    for (const auto *p : r.description->parameters()) {
        if (p->name.trimmed().isEmpty() || names.contains(p->name))
            std::abort();
        if (p->minimum && p->maximum && *p->minimum > *p->maximum)
            std::abort();
        names.insert(p->name);
    }
    return 0;
}
