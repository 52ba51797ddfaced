#include <offload/forms/moduleform.h>

#include "collapsiblesection_p.h"
#include "fields_p.h"

using offload::forms::detail::displayText;

#include <offload/sem/commandline.h>
#include <offload/sem/parameterfile.h>

#include <QFormLayout>
#include <QHash>
#include <QLabel>
#include <QSettings>
#include <QToolButton>
#include <QVBoxLayout>

#include <vector>

namespace offload {

namespace {

// An output the module writes to its return-parameter file (neither flag nor index): not on
// the command line, shown read-only. An output with a flag or an index is on the command line
// (the module reads where to write it, or a value), so the user gives it like any input.
bool isReportedOutput(const sem::Parameter &p)
{
    return p.isReturnParameter();
}

// A tooltip shows rich text when the text looks like markup: escape the description so that
// it is shown as written, and wrap it in a paragraph so that a long one wraps.
QString richToolTip(const QString &text)
{
    return text.isEmpty() ? QString() : QStringLiteral("<p>%1</p>").arg(text.toHtmlEscaped());
}

QString displayName(const sem::Parameter &p)
{
    return p.label.isEmpty() ? p.name : p.label;
}

} // namespace

struct ModuleForm::Private
{
    struct Row
    {
        std::unique_ptr<forms::detail::Field> field;
        QLabel *message = nullptr; // the validation message under the field
        bool output = false;
        QString error;
        QVariant last; // the value valuesChanged() last reported
    };

    sem::Description description;
    std::vector<Row> rows;
    std::vector<forms::detail::CollapsibleSection *> sections;
    QString settingsKey;
    // Hidden parameters the form cannot show but passes at their default: a default the
    // command line refuses makes the form invalid, with nothing the user can change.
    QStringList hiddenErrors;
    bool valid = true;

    QHash<QString, size_t> byName; // row index of each shown parameter

    Row *row(const QString &name)
    {
        const auto it = byName.constFind(name);
        return it == byName.cend() ? nullptr : &rows[*it];
    }

    void validate(Row &r);
    bool updateValidity(); // true when validity changed
};

ModuleForm::ModuleForm(sem::Description description, QWidget *parent)
    : QWidget(parent), d(std::make_unique<Private>())
{
    d->description = std::move(description);
    d->settingsKey = d->description.title;
    auto *layout = new QVBoxLayout(this);
    for (const sem::Group &group : d->description.groups) {
        const bool anyShown = std::any_of(group.parameters.cbegin(), group.parameters.cend(),
            [](const sem::Parameter &p) { return !p.hidden; });
        if (!anyShown)
            continue;
        const QString title = group.label.isEmpty() ? tr("Parameters") : group.label;
        auto *section
            = new forms::detail::CollapsibleSection(title, richToolTip(group.description), this);
        auto *rowsLayout = new QFormLayout(section->body());
        rowsLayout->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
        rowsLayout->setLabelAlignment(Qt::AlignLeft | Qt::AlignTop);
        for (const sem::Parameter &p : group.parameters) {
            if (p.hidden)
                continue;
            Private::Row r;
            r.output = isReportedOutput(p);
            r.field = forms::detail::makeField(p, r.output, section->body());
            QWidget *editor = r.field->editor();
            const QString name = displayName(p);
            const bool required = p.index && !r.output;
            auto *label
                = new QLabel(displayText(name, 80) + (required ? QStringLiteral(" *") : QString()),
                    section->body());
            label->setTextFormat(Qt::PlainText); // a description's text is never markup
            label->setBuddy(editor);
            label->setToolTip(richToolTip(p.description));
            editor->setToolTip(richToolTip(p.description));
            editor->setAccessibleName(name);
            editor->setAccessibleDescription(
                required ? tr("Required. %1").arg(p.description) : p.description);
            editor->setObjectName(p.name);

            auto *cell = new QWidget(section->body());
            auto *cellLayout = new QVBoxLayout(cell);
            cellLayout->setContentsMargins(0, 0, 0, 0);
            cellLayout->setSpacing(1);
            cellLayout->addWidget(r.field->widget());
            r.message = new QLabel(cell);
            r.message->setTextFormat(Qt::PlainText);
            r.message->setWordWrap(true);
            r.message->setStyleSheet(QStringLiteral("color: #b00020;"));
            r.message->setVisible(false);
            cellLayout->addWidget(r.message);
            rowsLayout->addRow(label, cell);

            connect(r.field.get(), &forms::detail::Field::changed, this,
                [this, i = d->rows.size()] { onFieldChanged(i); });
            d->byName.insert(p.name, d->rows.size());
            d->rows.push_back(std::move(r));
        }
        section->setExpanded(!group.advanced);
        layout->addWidget(section);
        d->sections.push_back(section);
    }
    layout->addStretch(1);
    for (const sem::Parameter *p : d->description.parameters()) {
        if (!p->hidden || p->isReturnParameter())
            continue;
        if (const QString error = sem::validateValue(*p, p->defaultValue); !error.isEmpty())
            d->hiddenErrors
                << tr("%1 (a hidden parameter: fix the module's description)").arg(error);
    }
    for (Private::Row &r : d->rows) {
        d->validate(r);
        r.last = r.output ? QVariant() : r.field->value();
    }
    d->updateValidity();
}

ModuleForm::~ModuleForm() = default;

const sem::Description &ModuleForm::description() const
{
    return d->description;
}

void ModuleForm::onFieldChanged(size_t index)
{
    Private::Row &row = d->rows[index];
    d->validate(row);
    // Outputs are not values; an editor that says "changed" without a change (a table set to
    // what it held) is not reported either.
    const QVariant now = row.output ? QVariant() : row.field->value();
    const bool changed = now != row.last;
    row.last = now;
    if (d->updateValidity())
        Q_EMIT validityChanged(d->valid);
    if (changed)
        Q_EMIT valuesChanged();
}

void ModuleForm::Private::validate(Row &r)
{
    r.error = r.output ? QString() : sem::validateValue(r.field->parameter(), r.field->value());
    if (r.message->text() != r.error || r.message->isHidden() != r.error.isEmpty()) {
        r.message->setText(r.error);
        r.message->setVisible(!r.error.isEmpty());
        // The row's height changes with the message: tell the form layout now (its cached
        // size of the row is not refreshed when a child of a not yet shown row changes).
        r.message->parentWidget()->updateGeometry();
    }
    QWidget *editor = r.field->editor();
    const sem::Parameter &p = r.field->parameter();
    const QString description
        = p.index && !r.output ? tr("Required. %1").arg(p.description) : p.description;
    editor->setAccessibleDescription(
        r.error.isEmpty() ? description : QStringLiteral("%1 %2").arg(r.error, description));
}

bool ModuleForm::Private::updateValidity()
{
    const bool now = hiddenErrors.isEmpty()
        && std::none_of(
            rows.cbegin(), rows.cend(), [](const Row &r) { return !r.error.isEmpty(); });
    const bool changed = now != valid;
    valid = now;
    return changed;
}

QVariantMap ModuleForm::values() const
{
    QVariantMap out;
    for (const Private::Row &r : d->rows)
        if (!r.output)
            out.insert(r.field->parameter().name, r.field->value());
    return out;
}

QStringList ModuleForm::setValues(const QVariantMap &values)
{
    QStringList notApplied;
    for (auto it = values.cbegin(); it != values.cend(); ++it) {
        Private::Row *r = d->row(it.key());
        if (!r || r->output) {
            const sem::Parameter *p = d->description.parameter(it.key());
            notApplied << (!p   ? tr("'%1' is not a parameter of this module").arg(it.key())
                    : p->hidden ? tr("'%1' is hidden: it keeps its default").arg(it.key())
                                : tr("'%1' is an output of the module").arg(it.key()));
            continue;
        }
        if (!r->field->setValue(it.value())) // the editor keeps its value
            notApplied
                << tr("'%1': the form cannot show '%2'").arg(it.key(), it.value().toString());
    }
    return notApplied;
}

void ModuleForm::resetToDefaults()
{
    for (Private::Row &r : d->rows)
        if (!r.output)
            r.field->reset();
}

bool ModuleForm::isValid() const
{
    return d->valid;
}

QStringList ModuleForm::errors() const
{
    QStringList out;
    for (const Private::Row &r : d->rows)
        if (!r.error.isEmpty())
            out << r.error;
    return out + d->hiddenErrors;
}

QString ModuleForm::error(const QString &name) const
{
    const Private::Row *r = d->row(name);
    return r ? r->error : QString();
}

void ModuleForm::setOutputValues(const QVariantMap &returnValues)
{
    for (auto it = returnValues.cbegin(); it != returnValues.cend(); ++it)
        if (Private::Row *r = d->row(it.key()); r && r->output)
            r->field->setValue(it.value());
}

void ModuleForm::clearOutputValues()
{
    for (Private::Row &r : d->rows)
        if (r.output)
            r.field->setValue(QString());
}

QWidget *ModuleForm::editor(const QString &name) const
{
    const Private::Row *r = d->row(name);
    return r ? r->field->editor() : nullptr;
}

int ModuleForm::sectionCount() const
{
    return int(d->sections.size());
}

bool ModuleForm::isSectionExpanded(int section) const
{
    return section >= 0 && section < sectionCount() && d->sections[section]->isExpanded();
}

void ModuleForm::setSectionExpanded(int section, bool expanded)
{
    if (section >= 0 && section < sectionCount())
        d->sections[section]->setExpanded(expanded);
}

QString ModuleForm::settingsKey() const
{
    return d->settingsKey;
}

void ModuleForm::setSettingsKey(const QString &key)
{
    d->settingsKey = key;
}

namespace {

QString settingsPath(const QString &key)
{
    // Percent-encoded: QSettings takes '/' and '\' as group separators, and an encoding that
    // maps nothing else onto the same text keeps "A/B", "A_B" and "A\B" apart.
    return QStringLiteral("offload/forms/%1/values")
        .arg(QString::fromLatin1(key.toUtf8().toPercentEncoding()));
}

} // namespace

void ModuleForm::saveSettings(QSettings &settings) const
{
    settings.setValue(
        settingsPath(d->settingsKey), QString::fromUtf8(sem::parameterFileJson(values())));
}

QStringList ModuleForm::restoreSettings(QSettings &settings)
{
    const QVariant saved = settings.value(settingsPath(d->settingsKey));
    if (!saved.isValid())
        return {};
    const sem::ParameterFile file = sem::parseParameterFile(saved.toString().toUtf8());
    if (!file.ok())
        return { tr("the saved values cannot be read: %1").arg(file.error) };
    return apply(file);
}

QStringList ModuleForm::apply(const sem::ParameterFile &file)
{
    QStringList complaints = setValues(file.values);
    for (const QString &name : file.defaults) { // null: back to the default
        if (Private::Row *r = d->row(name); r && !r->output)
            r->field->reset();
        else
            complaints << setValues({ { name, QString() } }); // the same words as setValues
    }
    return complaints;
}

QString ModuleForm::saveParameterFile(const QString &path) const
{
    return sem::writeParameterFile(path, values());
}

QString ModuleForm::loadParameterFile(const QString &path, QStringList *notApplied)
{
    const sem::ParameterFile file = sem::readParameterFile(path);
    if (!file.ok())
        return file.error;
    const QStringList complaints = apply(file);
    if (notApplied)
        *notApplied = complaints;
    return {};
}

} // namespace offload
