// Test support shared by every test executable: readable QCOMPARE output for Offload enums.
#pragma once

#include <offload/core/error.h>
#include <offload/core/taskstate.h>

#include <QTest>

namespace offload {
inline char *toString(TaskState s)
{
    return qstrdup(qPrintable(stateName(s)));
}
inline char *toString(ErrorKind k)
{
    return qstrdup(qPrintable(errorKindName(k)));
}
} // namespace offload
