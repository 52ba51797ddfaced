// BatchDialog: one module over many inputs (files, a folder and a pattern, or a numeric
// range); GUI thread only.
#pragma once

#include <offload/core/taskhandle.h>
#include <offload/sem/semdescription.h>

#include <QDialog>
#include <QVariantList>

QT_BEGIN_NAMESPACE
class QComboBox;
class QDoubleSpinBox;
class QLabel;
class QLineEdit;
class QPlainTextEdit;
class QSpinBox;
QT_END_NAMESPACE

namespace studio {

class BatchDialog : public QDialog
{
    Q_OBJECT
public:
    explicit BatchDialog(const offload::sem::Description &description, QWidget *parent = nullptr);

    QString parameter() const;
    QVariantList inputs() const; // typed for the parameter (integers as qlonglong)
    int parallel() const;

    // Fills the list; also for tests and scripts.
    void setParameter(const QString &name);
    void setInputs(const QStringList &lines);
    void fillRange(double from, double to, double step);
    // Lists the folder in the background and appends the files that match when done.
    offload::TaskHandle<QStringList> fillFromFolder(const QString &dir, const QString &pattern);

private:
    const offload::sem::Parameter *current() const;
    void updateCount();

    offload::sem::Description m_description;
    QComboBox *m_parameter;
    QPlainTextEdit *m_inputs;
    QLineEdit *m_folder, *m_pattern;
    QDoubleSpinBox *m_from, *m_to, *m_step;
    QSpinBox *m_parallel;
    QLabel *m_count;
};

// Numbers from `from` to `to` (inclusive, within rounding) in steps; empty if step does not
// lead there or more than maxRangeValues values would result (numericRangeProblem says why).
constexpr int maxRangeValues = 100'000;
QVariantList numericRange(double from, double to, double step, bool integers);
QString numericRangeProblem(double from, double to, double step); // empty: the range is fine

} // namespace studio
