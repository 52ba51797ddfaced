// The number editor: a spin box within the constraints and, when both bounds are set, a slider
// beside it. Descriptions are untrusted: a bound or step may be NaN, infinite or beyond any
// spin box, so every conversion from double to int below is checked (a double outside int's
// range, NaN included, is undefined behaviour when converted).
#include "fields_p.h"

#include <QDoubleSpinBox>
#include <QHBoxLayout>
#include <QLocale>
#include <QSlider>
#include <QSpinBox>

#include <cmath>
#include <limits>

namespace offload::forms::detail {

namespace {

constexpr double kIntMin = std::numeric_limits<int>::min();
constexpr double kIntMax = std::numeric_limits<int>::max();
// Integers a double holds exactly: the range of the wide integer box.
constexpr double kExactInteger = 9007199254740992.0; // 2^53
// The most digits after the point a float field shows; Qt's spin box takes more, but a value
// needing more than this is not one a module description means.
constexpr int kMaxDecimals = 30;
constexpr int kMaxSliderSteps = 10000;

// NaN and infinities are no bound and no step.
std::optional<double> finite(std::optional<double> v)
{
    return v && std::isfinite(*v) ? v : std::nullopt;
}

// A finite double as an int, clamped: never undefined.
int toInt(double v)
{
    if (std::isnan(v))
        return 0;
    return int(std::clamp(std::round(v), kIntMin, kIntMax));
}

// Digits after the point of v's shortest exact text ("1e-05" needs 5, "100000.1" needs 1).
int decimalsOf(double v)
{
    if (!std::isfinite(v))
        return 0;
    const QString text = QString::number(v, 'f', QLocale::FloatingPointShortest);
    const qsizetype dot = text.indexOf(QLatin1Char('.'));
    return dot < 0 ? 0 : int(text.size() - dot - 1);
}

// A double spin box that shows each value in its shortest exact form (0.3, not 0.300 or
// 0.29999999999999999) and sizes itself for ordinary numbers: QDoubleSpinBox sizes itself for
// the longest text of its range, hundreds of digits for an unbounded parameter.
class NumberSpinBox : public QDoubleSpinBox
{
public:
    using QDoubleSpinBox::QDoubleSpinBox;
    QSize sizeHint() const override { return bounded(QDoubleSpinBox::sizeHint()); }
    QSize minimumSizeHint() const override { return bounded(QDoubleSpinBox::minimumSizeHint()); }
    QString textFromValue(double value) const override
    {
        QString text = locale().toString(value, 'f', QLocale::FloatingPointShortest);
        if (!isGroupSeparatorShown())
            text.remove(locale().groupSeparator());
        return text;
    }

private:
    QSize bounded(QSize s) const
    {
        const int digits = 12 + std::min(decimals(), 8);
        const int typical = fontMetrics().horizontalAdvance(QString(digits, QLatin1Char('8')));
        s.setWidth(std::min(s.width(), typical + 40));
        return s;
    }
};

class NumberField : public Field
{
public:
    NumberField(const sem::Parameter &p, QWidget *parent)
        : Field(p)
        , m_widget(new QWidget(parent))
        , m_min(finite(p.minimum))
        , m_max(finite(p.maximum))
    {
        std::optional<double> step = finite(p.step);
        if (step && *step <= 0)
            step.reset();
        const bool integer = p.tag == QLatin1String("integer");
        bool ok = false;
        const double given = p.defaultValue.trimmed().toDouble(&ok);
        const auto fitsInt = [](double v) { return v >= kIntMin && v <= kIntMax; };
        if (!integer)
            m_kind = Float;
        else if ((m_min && !fitsInt(*m_min)) || (m_max && !fitsInt(*m_max))
            || (ok && std::isfinite(given) && !fitsInt(given)))
            m_kind = WideInteger; // SEM integers are C++ ints in Slicer; a description may say more
        else
            m_kind = Integer;

        auto *layout = new QHBoxLayout(m_widget);
        layout->setContentsMargins(0, 0, 0, 0);
        if (m_kind == Integer) {
            auto *spin = new QSpinBox(m_widget);
            spin->setRange(m_min ? toInt(std::ceil(*m_min)) : int(kIntMin),
                m_max ? toInt(std::floor(*m_max)) : int(kIntMax));
            spin->setSingleStep(step ? std::max(1, toInt(*step)) : 1);
            connect(spin, &QSpinBox::valueChanged, this, &Field::changed);
            m_spin = spin;
        } else {
            auto *spin = new NumberSpinBox(m_widget);
            if (m_kind == WideInteger) {
                spin->setDecimals(0);
                spin->setRange(std::max(m_min ? std::ceil(*m_min) : -kExactInteger, -kExactInteger),
                    std::min(m_max ? std::floor(*m_max) : kExactInteger, kExactInteger));
                spin->setSingleStep(step ? std::max(1.0, std::round(*step)) : 1.0);
            } else {
                int decimals = step ? 0 : 3;
                for (const std::optional<double> &v : { m_min, m_max, step })
                    if (v)
                        decimals = std::max(decimals, decimalsOf(*v));
                if (ok && std::isfinite(given))
                    decimals = std::max(decimals, decimalsOf(given));
                spin->setDecimals(std::min(decimals, kMaxDecimals));
                constexpr double big = std::numeric_limits<double>::max();
                spin->setRange(m_min.value_or(-big), m_max.value_or(big));
                spin->setSingleStep(step.value_or(std::pow(10.0, -std::min(spin->decimals(), 2))));
            }
            connect(spin, &QDoubleSpinBox::valueChanged, this, &Field::changed);
            m_spin = spin;
        }
        layout->addWidget(m_spin, 1);

        // A slider when both bounds are set and the span is a finite positive number.
        if (m_min && m_max && *m_max > *m_min && std::isfinite(*m_max - *m_min)) {
            m_span = *m_max - *m_min;
            const double stepSize = step.value_or(m_kind == Float ? m_span / 1000 : 1.0);
            const double steps = m_span / stepSize;
            m_steps = std::isfinite(steps)
                ? int(std::clamp(std::round(steps), 1.0, double(kMaxSliderSteps)))
                : kMaxSliderSteps;
            m_slider = new QSlider(Qt::Horizontal, m_widget);
            m_slider->setRange(0, m_steps);
            m_slider->setAccessibleName(tr("%1 slider").arg(p.label.isEmpty() ? p.name : p.label));
            layout->addWidget(m_slider, 2);
            connect(m_slider, &QSlider::valueChanged, this, [this](int k) {
                if (!m_syncing)
                    setNumber(k >= m_steps ? *m_max : *m_min + m_span * k / m_steps);
            });
            connect(this, &Field::changed, this, [this] { syncSlider(); });
        }
        reset();
        syncSlider();
    }

    QWidget *widget() const override { return m_widget; }
    QWidget *editor() const override { return m_spin; }

    QVariant value() const override
    {
        if (m_kind == Integer)
            return qlonglong(static_cast<QSpinBox *>(m_spin)->value());
        const double v = static_cast<QDoubleSpinBox *>(m_spin)->value();
        if (m_kind == WideInteger)
            return qlonglong(v); // within ±2^53: exact
        // The shortest text that reads back as this double, in the C locale the module reads:
        // "0.0001", not "1e-04"; "100000.1", not "100000.100000000005821".
        return QString::number(v, 'f', QLocale::FloatingPointShortest);
    }

    // Takes a number or its text when the spin box can hold it exactly: within the range, an
    // integer for integer fields, for floats with at most kMaxDecimals digits after the point
    // (the box shows more digits when a value needs them).
    bool setValue(const QVariant &value) override
    {
        if (!isScalar(value) || value.typeId() == QMetaType::Bool)
            return false;
        const QString text = value.toString().trimmed();
        bool ok = false;
        double v = text.toDouble(&ok);
        if (m_kind != Float) {
            bool exact = false;
            const qlonglong n = text.toLongLong(&exact);
            if (exact)
                v = double(n), ok = std::abs(double(n)) <= kExactInteger;
            else
                ok = ok && v == std::round(v);
        }
        if (!ok || !std::isfinite(v) || v < spinMinimum() || v > spinMaximum())
            return false;
        if (m_kind == Integer) {
            static_cast<QSpinBox *>(m_spin)->setValue(int(v)); // within the box's int range
            return true;
        }
        auto *spin = static_cast<QDoubleSpinBox *>(m_spin);
        if (m_kind == Float && decimalsOf(v) > spin->decimals()) {
            if (decimalsOf(v) > kMaxDecimals)
                return false;
            spin->setDecimals(decimalsOf(v));
        }
        spin->setValue(v);
        return spin->value() == v;
    }

protected:
    // 0, or the bound nearest to it: the spin box clamps.
    void clear() override
    {
        if (m_kind == Integer)
            static_cast<QSpinBox *>(m_spin)->setValue(0);
        else
            static_cast<QDoubleSpinBox *>(m_spin)->setValue(0);
    }

private:
    enum Kind { Integer, WideInteger, Float };

    double spinMinimum() const
    {
        return m_kind == Integer ? static_cast<QSpinBox *>(m_spin)->minimum()
                                 : static_cast<QDoubleSpinBox *>(m_spin)->minimum();
    }
    double spinMaximum() const
    {
        return m_kind == Integer ? static_cast<QSpinBox *>(m_spin)->maximum()
                                 : static_cast<QDoubleSpinBox *>(m_spin)->maximum();
    }

    // From the slider: v is finite (a bound plus a fraction of a finite span); the spin box
    // clamps it to its range.
    void setNumber(double v)
    {
        if (m_kind == Integer)
            static_cast<QSpinBox *>(m_spin)->setValue(toInt(v));
        else
            static_cast<QDoubleSpinBox *>(m_spin)->setValue(m_kind == Float ? v : std::round(v));
    }

    void syncSlider()
    {
        if (!m_slider)
            return;
        const double current = m_kind == Integer ? static_cast<QSpinBox *>(m_spin)->value()
                                                 : static_cast<QDoubleSpinBox *>(m_spin)->value();
        const double position = (current - *m_min) / m_span * m_steps;
        m_syncing = true;
        m_slider->setValue(
            std::isfinite(position) ? toInt(std::clamp(position, 0.0, double(m_steps))) : 0);
        m_syncing = false;
    }

    QWidget *m_widget;
    QAbstractSpinBox *m_spin = nullptr;
    QSlider *m_slider = nullptr;
    Kind m_kind = Integer;
    std::optional<double> m_min, m_max;
    double m_span = 0;
    int m_steps = 1;
    bool m_syncing = false;
};

} // namespace

std::unique_ptr<Field> makeNumberField(const sem::Parameter &parameter, QWidget *parent)
{
    return std::make_unique<NumberField>(parameter, parent);
}

} // namespace offload::forms::detail
