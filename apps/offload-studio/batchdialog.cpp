#include "batchdialog.h"

#include <QComboBox>
#include <QDialogButtonBox>
#include <offload/core/threadpool.h>

#include <QDir>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QSpinBox>
#include <QThread>
#include <QVBoxLayout>

#include <cmath>

namespace studio {

QString numericRangeProblem(double from, double to, double step)
{
    if (!std::isfinite(from) || !std::isfinite(to) || !std::isfinite(step))
        return BatchDialog::tr("the range's numbers must be finite");
    if (step == 0)
        return BatchDialog::tr("the step is 0");
    if ((to - from) / step < 0)
        return BatchDialog::tr("a step of %1 never leads from %2 to %3")
            .arg(step)
            .arg(from)
            .arg(to);
    const double n = std::floor((to - from) / step + 1e-9) + 1; // values, the first included
    if (n > maxRangeValues)
        return BatchDialog::tr("the range has %1 values, more than the %2 a batch may have")
            .arg(n, 0, n < 1e15 ? 'f' : 'g', n < 1e15 ? 0 : 3)
            .arg(maxRangeValues);
    return {};
}

QVariantList numericRange(double from, double to, double step, bool integers)
{
    QVariantList out;
    if (!numericRangeProblem(from, to, step).isEmpty())
        return out;
    const qint64 n = qint64(std::floor((to - from) / step + 1e-9)); // the values after the first
    for (qint64 i = 0; i <= n; ++i) {
        const double v = from + double(i) * step;
        if (integers)
            out << QVariant(qlonglong(std::llround(v)));
        else
            out << QVariant(QString::number(v, 'g', 15));
    }
    return out;
}

static bool isBatchable(const offload::sem::Parameter &p)
{
    return p.channel != QLatin1String("output") && !p.hidden && !p.isReturnParameter();
}

BatchDialog::BatchDialog(const offload::sem::Description &description, QWidget *parent)
    : QDialog(parent)
    , m_description(description)
    , m_parameter(new QComboBox(this))
    , m_inputs(new QPlainTextEdit(this))
    , m_folder(new QLineEdit(this))
    , m_pattern(new QLineEdit(QStringLiteral("*"), this))
    , m_from(new QDoubleSpinBox(this))
    , m_to(new QDoubleSpinBox(this))
    , m_step(new QDoubleSpinBox(this))
    , m_parallel(new QSpinBox(this))
    , m_count(new QLabel(this))
{
    setWindowTitle(tr("Batch run: %1").arg(description.title));
    for (const auto &g : description.groups)
        for (const auto &p : g.parameters)
            if (isBatchable(p))
                m_parameter->addItem(
                    p.label.isEmpty() ? p.name : QStringLiteral("%1 (%2)").arg(p.label, p.name),
                    p.name);
    m_inputs->setPlaceholderText(tr("One value or file per line"));
    for (auto *s : { m_from, m_to, m_step }) {
        s->setRange(-1e12, 1e12);
        s->setDecimals(4);
    }
    m_to->setValue(10);
    m_step->setValue(1);
    m_parallel->setRange(1, 256);
    m_parallel->setValue(std::max(1, QThread::idealThreadCount()));

    auto *files = new QPushButton(tr("Add files…"), this);
    auto *folder = new QPushButton(tr("Add folder"), this);
    auto *range = new QPushButton(tr("Fill range"), this);
    connect(files, &QPushButton::clicked, this, [this] {
        const QStringList chosen = QFileDialog::getOpenFileNames(this, tr("Inputs"));
        for (const QString &f : chosen)
            m_inputs->appendPlainText(f);
    });
    connect(folder, &QPushButton::clicked, this,
        [this] { fillFromFolder(m_folder->text(), m_pattern->text()); });
    connect(range, &QPushButton::clicked, this,
        [this] { fillRange(m_from->value(), m_to->value(), m_step->value()); });
    connect(m_inputs, &QPlainTextEdit::textChanged, this, &BatchDialog::updateCount);

    auto *folderRow = new QHBoxLayout;
    folderRow->addWidget(m_folder, 2);
    folderRow->addWidget(m_pattern, 1);
    folderRow->addWidget(folder);
    auto *rangeRow = new QHBoxLayout;
    rangeRow->addWidget(new QLabel(tr("from"), this));
    rangeRow->addWidget(m_from);
    rangeRow->addWidget(new QLabel(tr("to"), this));
    rangeRow->addWidget(m_to);
    rangeRow->addWidget(new QLabel(tr("step"), this));
    rangeRow->addWidget(m_step);
    rangeRow->addWidget(range);

    auto *form = new QFormLayout;
    form->addRow(tr("Vary"), m_parameter);
    form->addRow(tr("Inputs"), m_inputs);
    form->addRow(QString(), files);
    form->addRow(tr("Folder, pattern"), folderRow);
    form->addRow(tr("Range"), rangeRow);
    form->addRow(tr("In parallel"), m_parallel);
    form->addRow(QString(), m_count);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Run batch"));
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);
    updateCount();
}

const offload::sem::Parameter *BatchDialog::current() const
{
    const QString name = parameter();
    for (const auto &g : m_description.groups)
        for (const auto &p : g.parameters)
            if (p.name == name)
                return &p;
    return nullptr;
}

QString BatchDialog::parameter() const
{
    return m_parameter->currentData().toString();
}

void BatchDialog::setParameter(const QString &name)
{
    const int i = m_parameter->findData(name);
    if (i >= 0)
        m_parameter->setCurrentIndex(i);
}

QVariantList BatchDialog::inputs() const
{
    const auto *p = current();
    const bool integer = p && (p->tag == QLatin1String("integer"));
    QVariantList out;
    const auto lines = m_inputs->toPlainText().split(QLatin1Char('\n'));
    for (const QString &line : lines) {
        if (line.trimmed().isEmpty())
            continue;
        bool ok = false;
        const qlonglong n = line.trimmed().toLongLong(&ok);
        out << (integer && ok ? QVariant(n) : QVariant(line));
    }
    return out;
}

int BatchDialog::parallel() const
{
    return m_parallel->value();
}

void BatchDialog::setInputs(const QStringList &lines)
{
    m_inputs->setPlainText(lines.join(QLatin1Char('\n')));
}

void BatchDialog::fillRange(double from, double to, double step)
{
    const auto *p = current();
    const QVariantList values
        = numericRange(from, to, step, p && p->tag == QLatin1String("integer"));
    QStringList lines;
    for (const QVariant &v : values)
        lines << v.toString();
    setInputs(lines);
    if (const QString problem = numericRangeProblem(from, to, step); !problem.isEmpty())
        m_count->setText(problem);
}

offload::TaskHandle<QStringList> BatchDialog::fillFromFolder(
    const QString &dir, const QString &pattern)
{
    // Listed on the pool: a folder on a slow or hung mount must not freeze the dialog.
    const QString glob = pattern.isEmpty() ? QStringLiteral("*") : pattern;
    auto listing = offload::run(this,
        [dir, glob] {
            const QDir d(dir);
            QStringList files;
            for (const QString &n : d.entryList({ glob }, QDir::Files, QDir::Name))
                files << d.absoluteFilePath(n);
            return files;
        },
        { QStringLiteral("List %1 in %2").arg(glob, dir) });
    listing.onResult([this](const QStringList &files) {
        for (const QString &f : files)
            m_inputs->appendPlainText(f);
    });
    return listing;
}

void BatchDialog::updateCount()
{
    m_count->setText(tr("%n run(s)", nullptr, int(inputs().size())));
}

} // namespace studio
