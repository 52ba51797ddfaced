// StudioSettings: what Studio keeps in QSettings, and the dialog that edits it; GUI thread.
#pragma once

#include <QDialog>
#include <QStringList>

QT_BEGIN_NAMESPACE
class QListWidget;
class QLineEdit;
class QSettings;
class QSpinBox;
QT_END_NAMESPACE

namespace studio {

struct StudioSettings
{
    QStringList modulePaths; // module files and folders besides the bundled modules
    int maxParallel = 0; // module runs at once; 0: the number of cores
    int cancelGraceMs = 2000; // SIGTERM, this long, SIGKILL
    QString historyPath; // empty: defaultHistoryPath()
    // Where runs go: "local", "ssh://user@host:port", "slurm[:partition]",
    // "sbatch[:partition]" (offload::Launcher::parse), and the places used before, newest first.
    QString runOn = QStringLiteral("local");
    QStringList recentPlaces;
    QString sshConfigFile; // empty: ssh's own (~/.ssh/config)

    static StudioSettings load(const QSettings &settings);
    void save(QSettings &settings) const;
    static QString defaultHistoryPath();
    QString effectiveHistoryPath() const;
    int effectiveMaxParallel() const;
};

// Edits a copy; the caller applies what exec() accepted.
class SettingsDialog : public QDialog
{
    Q_OBJECT
public:
    explicit SettingsDialog(const StudioSettings &settings, QWidget *parent = nullptr);
    StudioSettings settings() const;

private:
    QListWidget *m_paths;
    QSpinBox *m_parallel, *m_grace;
    QLineEdit *m_history, *m_sshConfig;
    StudioSettings m_base; // what the dialog does not edit is kept
};

} // namespace studio
