#include "studiosettings.h"

#include <QDialogButtonBox>
#include <QDir>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QListWidget>
#include <QPushButton>
#include <QSettings>
#include <QSpinBox>
#include <QStandardPaths>
#include <QThread>
#include <QVBoxLayout>

namespace studio {

StudioSettings StudioSettings::load(const QSettings &s)
{
    StudioSettings out;
    out.modulePaths = s.value(QStringLiteral("modules/paths")).toStringList();
    out.maxParallel = std::clamp(s.value(QStringLiteral("runs/maxParallel"), 0).toInt(), 0, 256);
    out.cancelGraceMs
        = std::clamp(s.value(QStringLiteral("runs/cancelGraceMs"), 2000).toInt(), 0, 600'000);
    out.historyPath = s.value(QStringLiteral("history/path")).toString();
    out.runOn = s.value(QStringLiteral("runs/on"), QStringLiteral("local")).toString();
    out.recentPlaces = s.value(QStringLiteral("runs/recentPlaces")).toStringList().mid(0, 8);
    out.sshConfigFile = s.value(QStringLiteral("ssh/configFile")).toString();
    return out;
}

void StudioSettings::save(QSettings &s) const
{
    s.setValue(QStringLiteral("modules/paths"), modulePaths);
    s.setValue(QStringLiteral("runs/maxParallel"), maxParallel);
    s.setValue(QStringLiteral("runs/cancelGraceMs"), cancelGraceMs);
    s.setValue(QStringLiteral("history/path"), historyPath);
    s.setValue(QStringLiteral("runs/on"), runOn);
    s.setValue(QStringLiteral("runs/recentPlaces"), recentPlaces);
    s.setValue(QStringLiteral("ssh/configFile"), sshConfigFile);
}

QString StudioSettings::defaultHistoryPath()
{
    return QStandardPaths::writableLocation(QStandardPaths::AppDataLocation)
        + QStringLiteral("/history.sqlite");
}

QString StudioSettings::effectiveHistoryPath() const
{
    return historyPath.isEmpty() ? defaultHistoryPath() : historyPath;
}

int StudioSettings::effectiveMaxParallel() const
{
    return maxParallel > 0 ? maxParallel : std::max(1, QThread::idealThreadCount());
}

SettingsDialog::SettingsDialog(const StudioSettings &settings, QWidget *parent)
    : QDialog(parent)
    , m_paths(new QListWidget(this))
    , m_parallel(new QSpinBox(this))
    , m_grace(new QSpinBox(this))
    , m_history(new QLineEdit(this))
    , m_sshConfig(new QLineEdit(this))
    , m_base(settings)
{
    setWindowTitle(tr("Studio settings"));
    m_paths->addItems(settings.modulePaths);
    m_parallel->setRange(0, 256);
    m_parallel->setSpecialValueText(tr("one per core"));
    m_parallel->setValue(settings.maxParallel);
    m_grace->setRange(0, 600'000);
    m_grace->setSuffix(tr(" ms"));
    m_grace->setValue(settings.cancelGraceMs);
    m_history->setText(settings.historyPath);
    m_history->setPlaceholderText(StudioSettings::defaultHistoryPath());
    m_sshConfig->setText(settings.sshConfigFile);
    m_sshConfig->setPlaceholderText(tr("ssh's own (~/.ssh/config)"));

    auto *addFolder = new QPushButton(tr("Add folder…"), this);
    auto *remove = new QPushButton(tr("Remove"), this);
    connect(addFolder, &QPushButton::clicked, this, [this] {
        const QString dir = QFileDialog::getExistingDirectory(this, tr("Module folder"));
        if (!dir.isEmpty())
            m_paths->addItem(QDir::cleanPath(dir));
    });
    connect(remove, &QPushButton::clicked, this, [this] { delete m_paths->currentItem(); });
    auto *pathButtons = new QVBoxLayout;
    pathButtons->addWidget(addFolder);
    pathButtons->addWidget(remove);
    pathButtons->addStretch();
    auto *pathRow = new QHBoxLayout;
    pathRow->addWidget(m_paths, 1);
    pathRow->addLayout(pathButtons);

    auto *form = new QFormLayout;
    form->addRow(tr("Module paths"), pathRow);
    form->addRow(tr("Runs at once"), m_parallel);
    form->addRow(tr("Cancel grace"), m_grace);
    form->addRow(tr("History database"), m_history);
    form->addRow(tr("ssh configuration"), m_sshConfig);
    auto *buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    auto *layout = new QVBoxLayout(this);
    layout->addLayout(form);
    layout->addWidget(buttons);
}

StudioSettings SettingsDialog::settings() const
{
    StudioSettings s = m_base;
    s.modulePaths.clear();
    for (int i = 0; i < m_paths->count(); ++i)
        s.modulePaths << m_paths->item(i)->text();
    s.maxParallel = m_parallel->value();
    s.cancelGraceMs = m_grace->value();
    s.historyPath = m_history->text().trimmed();
    s.sshConfigFile = m_sshConfig->text().trimmed();
    return s;
}

} // namespace studio
