// libFuzzer target for the SEM description parser and the command-line builder. Properties:
// never crashes; a refusal says why; whatever it accepts has unique parameter names (at most
// one nameless parameter: Slicer accepts one, and values are given by name) and can be turned
// into a command line from its defaults, or gives an error saying why, by the same check
// validateValue applies to each default.
#include <offload/sem/commandline.h>
#include <offload/sem/semdescription.h>

#include <QSet>

#include <cstdint>
#include <cstdlib>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const auto r = offload::sem::parseDescription(
        QByteArray(reinterpret_cast<const char *>(data), qsizetype(size)));
    if (!r.ok()) {
        if (r.error.isEmpty())
            std::abort(); // a failure must say why
        return 0;
    }
    QSet<QString> names;
    bool anyInvalid = false;
    for (const auto *p : r.description->parameters()) {
        if (names.contains(p->name))
            std::abort();
        names.insert(p->name);
        if (!p->isReturnParameter())
            anyInvalid |= !offload::sem::validateValue(*p, p->defaultValue).isEmpty();
    }
    const offload::sem::CommandLine cl = offload::sem::buildCommandLine(*r.description, {});
    if (cl.ok() == anyInvalid) // the builder and the per-value check must agree
        std::abort();
    return 0;
}
