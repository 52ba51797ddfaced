#include "fields_p.h"

#include <QCheckBox>
#include <QComboBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QListWidget>
#include <QTableWidget>
#include <QToolButton>
#include <QVBoxLayout>

#include <limits>

namespace offload::forms::detail {

bool isScalar(const QVariant &value)
{
    switch (value.typeId()) {
    case QMetaType::QString:
    case QMetaType::QByteArray:
    case QMetaType::QChar:
    case QMetaType::Bool:
    case QMetaType::Int:
    case QMetaType::UInt:
    case QMetaType::LongLong:
    case QMetaType::ULongLong:
    case QMetaType::Double:
    case QMetaType::Float:
        return true;
    default:
        return false;
    }
}

bool isFlatList(const QVariant &value)
{
    if (value.typeId() == QMetaType::QStringList)
        return true;
    if (value.typeId() != QMetaType::QVariantList)
        return false;
    const QVariantList list = value.toList();
    return std::all_of(list.cbegin(), list.cend(), [](const QVariant &e) { return isScalar(e); });
}

QString displayText(const QString &text, int maxChars)
{
    QString shown = text.size() > maxChars ? text.left(maxChars - 1) + QChar(0x2026) : text;
    return shown.replace(QLatin1Char('&'), QLatin1String("&&"));
}

namespace {

// No limit on what a field holds: QLineEdit cuts text at 32,767 characters by default, and a
// vector of a few thousand numbers or a long path list is longer.
void unlimited(QLineEdit *edit)
{
    edit->setMaxLength(std::numeric_limits<int>::max());
}

QStringList listOf(const QVariant &value)
{
    if (value.typeId() == QMetaType::QVariantList || value.typeId() == QMetaType::QStringList) {
        QStringList out;
        for (const QVariant &e : value.toList())
            out << e.toString();
        return out;
    }
    return value.toString().split(QLatin1Char(','), Qt::SkipEmptyParts);
}

QHBoxLayout *row(QWidget *container)
{
    auto *layout = new QHBoxLayout(container);
    layout->setContentsMargins(0, 0, 0, 0);
    return layout;
}

class BooleanField : public Field
{
public:
    BooleanField(const sem::Parameter &p, QWidget *parent) : Field(p), m_box(new QCheckBox(parent))
    {
        reset();
        connect(m_box, &QCheckBox::toggled, this, &Field::changed);
    }
    QWidget *widget() const override { return m_box; }
    QWidget *editor() const override { return m_box; }
    QVariant value() const override { return m_box->isChecked(); }
    void clear() override { m_box->setChecked(false); }
    bool setValue(const QVariant &value) override
    {
        const QString s = value.toString().trimmed().toLower();
        if (value.typeId() != QMetaType::Bool && s != QLatin1String("true")
            && s != QLatin1String("false"))
            return false;
        m_box->setChecked(
            value.typeId() == QMetaType::Bool ? value.toBool() : s == QLatin1String("true"));
        return true;
    }

private:
    QCheckBox *m_box;
};

// Text: strings, vectors as a comma list, elements outside the schema, and read-only outputs.
class TextField : public Field
{
public:
    TextField(const sem::Parameter &p, bool readOnly, QWidget *parent)
        : Field(p), m_edit(new QLineEdit(parent))
    {
        unlimited(m_edit);
        m_edit->setReadOnly(readOnly);
        if (readOnly)
            m_edit->setPlaceholderText(tr("filled in by a run"));
        else if (p.isVector() || p.multiple)
            m_edit->setPlaceholderText(tr("values separated by commas, e.g. 1,2,3"));
        else if (p.unknownElement)
            m_edit->setPlaceholderText(tr("<%1>: passed to the module as text").arg(p.tag));
        if (!readOnly)
            reset();
        connect(m_edit, &QLineEdit::textChanged, this, &Field::changed);
    }
    QWidget *widget() const override { return m_edit; }
    QWidget *editor() const override { return m_edit; }
    QVariant value() const override { return m_edit->text(); }
    void clear() override { m_edit->clear(); }
    bool setValue(const QVariant &value) override
    {
        if (!isScalar(value) && !isFlatList(value))
            return false; // a map, a list of lists: no text says what it means
        if (isFlatList(value))
            m_edit->setText(listOf(value).join(QLatin1Char(',')));
        else if (value.typeId() == QMetaType::Bool)
            m_edit->setText(value.toBool() ? QStringLiteral("true") : QStringLiteral("false"));
        else
            m_edit->setText(value.toString());
        return true;
    }

private:
    QLineEdit *m_edit;
};

class EnumerationField : public Field
{
public:
    EnumerationField(const sem::Parameter &p, QWidget *parent)
        : Field(p), m_combo(new QComboBox(parent))
    {
        m_combo->addItems(p.elements);
        m_combo->setCurrentIndex(-1);
        reset();
        connect(m_combo, &QComboBox::currentIndexChanged, this, &Field::changed);
    }
    QWidget *widget() const override { return m_combo; }
    QWidget *editor() const override { return m_combo; }
    QVariant value() const override { return m_combo->currentText(); }
    // As Slicer: the first element when no default is given.
    void clear() override { m_combo->setCurrentIndex(m_combo->count() > 0 ? 0 : -1); }
    bool setValue(const QVariant &value) override
    {
        const int i = m_combo->findText(value.toString().trimmed());
        if (i >= 0)
            m_combo->setCurrentIndex(i);
        return i >= 0;
    }

private:
    QComboBox *m_combo;
};

QString fileFilter(const sem::Parameter &p)
{
    QStringList patterns;
    for (QString e : p.fileExtensions) {
        e = e.trimmed();
        if (e.startsWith(QLatin1Char('*')))
            e.remove(0, 1);
        if (!e.isEmpty())
            patterns << QLatin1Char('*')
                    + (e.startsWith(QLatin1Char('.')) ? e : QLatin1Char('.') + e);
    }
    const QString all = QObject::tr("All files (*)");
    if (patterns.isEmpty())
        return all;
    return QObject::tr("%1 files (%2)").arg(p.tag, patterns.join(QLatin1Char(' ')))
        + QStringLiteral(";;") + all;
}

// A path (file, directory, image, geometry, transform, table, measurement, pointfile): a
// field and a browse button; a list of paths when the parameter takes several.
class PathField : public Field
{
public:
    PathField(const sem::Parameter &p, QWidget *parent) : Field(p), m_widget(new QWidget(parent))
    {
        const bool output = p.channel == QLatin1String("output");
        auto *browse = new QToolButton(m_widget);
        browse->setText(tr("Browse…"));
        browse->setAccessibleName(tr("Browse for %1").arg(p.label.isEmpty() ? p.name : p.label));
        if (p.multiple) {
            auto *layout = new QVBoxLayout(m_widget);
            layout->setContentsMargins(0, 0, 0, 0);
            m_list = new QListWidget(m_widget);
            m_list->setMaximumHeight(m_list->fontMetrics().height() * 6);
            auto *remove = new QToolButton(m_widget);
            remove->setText(tr("Remove"));
            remove->setAccessibleName(tr("Remove the selected path"));
            auto *buttons = new QHBoxLayout;
            buttons->addWidget(browse);
            buttons->addWidget(remove);
            buttons->addStretch();
            layout->addWidget(m_list);
            layout->addLayout(buttons);
            connect(remove, &QToolButton::clicked, this, [this] {
                delete m_list->currentItem();
                Q_EMIT changed();
            });
            connect(m_list, &QListWidget::itemChanged, this, &Field::changed);
        } else {
            auto *layout = row(m_widget);
            m_edit = new QLineEdit(m_widget);
            unlimited(m_edit);
            const bool vowel = QStringLiteral("aeiou").contains(p.tag.left(1));
            m_edit->setPlaceholderText(p.tag == QLatin1String("directory") ? tr("a directory")
                    : output ? tr("where to write the %1").arg(p.tag)
                             : (vowel ? tr("an %1 to read") : tr("a %1 to read")).arg(p.tag));
            layout->addWidget(m_edit, 1);
            layout->addWidget(browse);
            connect(m_edit, &QLineEdit::textChanged, this, &Field::changed);
        }
        connect(browse, &QToolButton::clicked, this, [this] { this->browse(); });
        reset();
    }

    QWidget *widget() const override { return m_widget; }
    QWidget *editor() const override
    {
        return m_edit ? static_cast<QWidget *>(m_edit) : static_cast<QWidget *>(m_list);
    }

    QVariant value() const override
    {
        if (m_edit)
            return m_edit->text();
        QStringList paths;
        for (int i = 0; i < m_list->count(); ++i)
            if (!m_list->item(i)->text().isEmpty())
                paths << m_list->item(i)->text();
        return paths;
    }

    void clear() override
    {
        if (m_edit) {
            m_edit->clear();
            return;
        }
        {
            const QSignalBlocker block(m_list);
            m_list->clear();
        }
        Q_EMIT changed();
    }

    bool setValue(const QVariant &value) override
    {
        if (m_edit) {
            if (!isScalar(value))
                return false; // one path: not a list, not a map
            m_edit->setText(value.toString());
            return true;
        }
        if (!isScalar(value) && !isFlatList(value))
            return false;
        {
            const QSignalBlocker block(m_list); // one change for the whole list, not one per path
            m_list->clear();
            for (const QString &path : listOf(value))
                addPath(path);
        }
        Q_EMIT changed();
        return true;
    }

private:
    // Editable before it joins the list: a flag set afterwards emits itemChanged, one
    // validation of the whole list per path.
    void addPath(const QString &path)
    {
        auto *item = new QListWidgetItem(path);
        item->setFlags(item->flags() | Qt::ItemIsEditable);
        m_list->addItem(item);
    }

    void browse()
    {
        const sem::Parameter &p = parameter();
        const QString title = p.label.isEmpty() ? p.name : p.label;
        const QString current = m_edit ? m_edit->text() : QString();
        const QString start = current.isEmpty() ? QString() : QFileInfo(current).absolutePath();
        const bool output = p.channel == QLatin1String("output");
        if (p.tag == QLatin1String("directory")) {
            const QString dir = QFileDialog::getExistingDirectory(m_widget, title, current);
            if (!dir.isEmpty())
                setOne(dir);
        } else if (p.multiple) {
            // Inputs: several files at once; outputs: one place to write at a time.
            const QStringList paths = output
                ? QStringList { QFileDialog::getSaveFileName(
                    m_widget, title, start, fileFilter(p)) }
                : QFileDialog::getOpenFileNames(m_widget, title, start, fileFilter(p));
            {
                const QSignalBlocker block(m_list);
                for (const QString &path : paths)
                    if (!path.isEmpty())
                        addPath(path);
            }
            Q_EMIT changed();
        } else if (output) {
            const QString path
                = QFileDialog::getSaveFileName(m_widget, title, start, fileFilter(p));
            if (!path.isEmpty())
                setOne(path);
        } else {
            const QString path
                = QFileDialog::getOpenFileName(m_widget, title, start, fileFilter(p));
            if (!path.isEmpty())
                setOne(path);
        }
    }

    void setOne(const QString &path)
    {
        if (m_edit) {
            m_edit->setText(path);
            return;
        }
        addPath(path);
        Q_EMIT changed();
    }

    QWidget *m_widget;
    QLineEdit *m_edit = nullptr;
    QListWidget *m_list = nullptr;
};

// Points and regions: a table of coordinates, one row per point (one row only unless the
// parameter takes several), with the coordinate system shown.
class CoordinatesField : public Field
{
public:
    CoordinatesField(const sem::Parameter &p, QWidget *parent)
        : Field(p), m_widget(new QWidget(parent))
    {
        const bool region = p.tag.startsWith(QLatin1String("region"));
        m_several = p.multiple || p.isVector();
        const QStringList columns = region
            ? QStringList { QStringLiteral("x"), QStringLiteral("y"), QStringLiteral("z"),
                  QStringLiteral("radius x"), QStringLiteral("radius y"),
                  QStringLiteral("radius z") }
            : QStringList { QStringLiteral("x"), QStringLiteral("y"), QStringLiteral("z") };
        m_table = new QTableWidget(m_several ? 0 : 1, int(columns.size()), m_widget);
        m_table->setHorizontalHeaderLabels(columns);
        // Tab moves through the form, as everywhere else in it; arrows move between cells.
        m_table->setTabKeyNavigation(false);
        m_table->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
        m_table->verticalHeader()->setVisible(m_several);
        m_table->setMaximumHeight(m_table->fontMetrics().height() * (m_several ? 8 : 4));
        auto *layout = new QVBoxLayout(m_widget);
        layout->setContentsMargins(0, 0, 0, 0);
        layout->addWidget(m_table);
        auto *below = new QHBoxLayout;
        const QString system = p.coordinateSystem.trimmed().isEmpty()
            ? QStringLiteral("RAS")
            : p.coordinateSystem.trimmed().toUpper();
        auto *systemLabel
            = new QLabel(tr("coordinates: %1").arg(displayText(system, 40)), m_widget);
        systemLabel->setObjectName(QStringLiteral("coordinateSystem"));
        systemLabel->setTextFormat(Qt::PlainText);
        below->addWidget(systemLabel);
        below->addStretch();
        if (m_several) {
            auto *add = new QToolButton(m_widget);
            add->setText(region ? tr("Add region") : tr("Add point"));
            auto *remove = new QToolButton(m_widget);
            remove->setText(tr("Remove"));
            remove->setAccessibleName(tr("Remove the selected row"));
            below->addWidget(add);
            below->addWidget(remove);
            connect(add, &QToolButton::clicked, this, [this] {
                m_table->insertRow(m_table->rowCount());
                Q_EMIT changed();
            });
            connect(remove, &QToolButton::clicked, this, [this] {
                if (m_table->currentRow() >= 0)
                    m_table->removeRow(m_table->currentRow());
                Q_EMIT changed();
            });
        }
        layout->addLayout(below);
        reset();
        connect(m_table, &QTableWidget::itemChanged, this, &Field::changed);
    }

    QWidget *widget() const override { return m_widget; }
    QWidget *editor() const override { return m_table; }

    QVariant value() const override
    {
        QStringList rows;
        for (int r = 0; r < m_table->rowCount(); ++r) {
            QStringList cells;
            bool any = false;
            for (int c = 0; c < m_table->columnCount(); ++c) {
                const QTableWidgetItem *item = m_table->item(r, c);
                cells << (item ? item->text().trimmed() : QString());
                any = any || !cells.last().isEmpty();
            }
            if (any)
                rows << cells.join(QLatin1Char(','));
        }
        if (!m_several)
            return rows.value(0);
        return rows;
    }

    void clear() override
    {
        {
            const QSignalBlocker block(m_table);
            if (m_several)
                m_table->setRowCount(0);
            else
                m_table->clearContents();
        }
        Q_EMIT changed();
    }

    bool setValue(const QVariant &value) override
    {
        QStringList rows;
        if (value.typeId() == QMetaType::QVariantList || value.typeId() == QMetaType::QStringList)
            rows = listOf(value);
        else
            rows = value.toString().split(QLatin1Char(';'), Qt::SkipEmptyParts);
        if (!m_several && rows.size() > 1 && !rows.first().contains(QLatin1Char(',')))
            rows = QStringList { rows.join(QLatin1Char(',')) }; // [x, y, z] as a list of numbers
        if (!m_several && rows.size() > 1)
            return false; // several points for a parameter that takes one
        if (!isScalar(value) && !isFlatList(value))
            return false;
        for (const QString &r : rows)
            if (r.split(QLatin1Char(',')).size() > m_table->columnCount())
                return false; // more coordinates than a point (region) has: never cut
        const QSignalBlocker block(m_table);
        if (m_several)
            m_table->setRowCount(int(rows.size()));
        else
            m_table->clearContents();
        for (int r = 0; r < rows.size(); ++r) {
            const QStringList cells = rows[r].split(QLatin1Char(','));
            for (int c = 0; c < m_table->columnCount(); ++c)
                m_table->setItem(r, c, new QTableWidgetItem(cells.value(c).trimmed()));
        }
        Q_EMIT changed();
        return true;
    }

private:
    QWidget *m_widget;
    QTableWidget *m_table;
    bool m_several = false;
};

bool isPath(const QString &tag)
{
    for (const char *t : { "file", "directory", "image", "geometry", "transform", "table",
             "measurement", "pointfile" })
        if (tag == QLatin1String(t))
            return true;
    return false;
}

} // namespace

std::unique_ptr<Field> makeField(const sem::Parameter &p, bool outputOnly, QWidget *parent)
{
    if (outputOnly || p.unknownElement)
        return std::make_unique<TextField>(p, outputOnly, parent);
    const bool number = p.tag == QLatin1String("integer") || p.tag == QLatin1String("float")
        || p.tag == QLatin1String("double");
    if (number && !p.multiple)
        return makeNumberField(p, parent);
    if (p.tag == QLatin1String("boolean"))
        return std::make_unique<BooleanField>(p, parent);
    if (p.isEnumeration())
        return std::make_unique<EnumerationField>(p, parent);
    if (isPath(p.tag))
        return std::make_unique<PathField>(p, parent);
    if (p.tag.startsWith(QLatin1String("point")) || p.tag.startsWith(QLatin1String("region")))
        return std::make_unique<CoordinatesField>(p, parent);
    // Strings, the vectors, and numbers that take several values: a comma list.
    return std::make_unique<TextField>(p, false, parent);
}

} // namespace offload::forms::detail
