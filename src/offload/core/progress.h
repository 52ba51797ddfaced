// Progress: what a task reports about how far it has come. A plain value type.
#pragma once

#include <offload/core/export.h>

#include <QMetaType>
#include <QString>

namespace offload {

// A named step of a multi-step task ("Segmenting", 2 of 5). index is 0-based; -1 means none.
struct Stage
{
    QString name;
    int index = -1;
    int count = 0;

    bool isNull() const { return index < 0 && name.isEmpty(); }
    friend bool operator==(const Stage &, const Stage &) = default;
};

// A 64-bit value within [minimum, maximum]. While maximum <= minimum the amount is unknown
// (a busy indicator); text is free-form and may change without the value changing.
struct Progress
{
    qint64 value = 0;
    qint64 minimum = 0;
    qint64 maximum = 0;
    Stage stage;
    QString text;

    bool isDeterminate() const { return maximum > minimum; }
    // Position within the range in [0, 1], or -1 when the amount is unknown.
    OFFLOAD_CORE_EXPORT double fraction() const;
    friend bool operator==(const Progress &, const Progress &) = default;
};

} // namespace offload

Q_DECLARE_METATYPE(offload::Progress)
