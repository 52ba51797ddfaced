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
    // The range a fraction is reported on: 0..fractionScale (TaskControl::setFraction, a
    // coroutine's progress, a worker's or a program's fraction).
    static constexpr qint64 fractionScale = 1'000'000;

    qint64 value = 0;
    qint64 minimum = 0;
    qint64 maximum = 0;
    Stage stage;
    QString text;

    bool isDeterminate() const { return maximum > minimum; }
    // Position within the range in [0, 1], or -1 when the amount is unknown.
    OFFLOAD_CORE_EXPORT double fraction() const;

    // THE conversion of a fraction into a value on 0..fractionScale; never cast a double to an
    // integer yourself (out of range or NaN, that is undefined behaviour). Defined for every
    // double: NaN counts as 0 (no progress, not "ignored"); everything else is clamped to
    // [0, 1] (-inf and -1e300 → 0, +inf and 1e300 → fractionScale) and rounded to the nearest
    // step.
    static constexpr qint64 valueFromFraction(double fraction) noexcept
    {
        if (!(fraction > 0.0)) // NaN, zero, negative
            return 0;
        if (fraction >= 1.0)
            return fractionScale;
        return qint64(fraction * double(fractionScale) + 0.5); // < fractionScale + 0.5: fits
    }
    // The same as a range: 0..fractionScale, the value for `fraction`; stage and text are kept.
    constexpr void setFraction(double fraction) noexcept
    {
        minimum = 0;
        maximum = fractionScale;
        value = valueFromFraction(fraction);
    }
    friend bool operator==(const Progress &, const Progress &) = default;
};

} // namespace offload

Q_DECLARE_METATYPE(offload::Progress)
