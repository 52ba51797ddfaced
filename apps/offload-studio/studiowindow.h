// StudioWindow: Offload Studio's main window; GUI thread only.
#pragma once

#include "runhistory.h"
#include "studiosettings.h"

#include <offload/forms/moduleform.h>
#include <offload/monitor/latencyprobe.h>

#include <QMainWindow>
#include <QPointer>

#include <memory>

QT_BEGIN_NAMESPACE
class QComboBox;
class QLabel;
class QLineEdit;
class QListView;
class QPushButton;
class QScrollArea;
class QSettings;
class QSortFilterProxyModel;
QT_END_NAMESPACE

namespace studio {

class DetailsPane;
class HistoryPanel;
class LatencySparkline;
class ModuleLibrary;
class MonitorPanel;
class RunController;

// The module library (left), the selected module's form with Run, Run again, Copy command
// line and Batch (centre), the monitor and the history (below), the selected task's details
// (right), and the GUI's lag in the status bar. Owns everything it shows, the settings object
// passed in included.
class StudioWindow : public QMainWindow
{
    Q_OBJECT
public:
    enum class QuitPolicy { Ask, CancelRuns }; // CancelRuns: scripted sessions and tests
    explicit StudioWindow(std::unique_ptr<QSettings> settings, QWidget *parent = nullptr);
    ~StudioWindow() override;

    ModuleLibrary *library() const { return m_library; }
    RunController *controller() const { return m_controller; }
    MonitorPanel *monitor() const { return m_monitor; }
    DetailsPane *details() const { return m_details; }
    HistoryPanel *historyPanel() const { return m_historyPanel; }
    RunHistory *history() const { return m_history; }
    offload::ModuleForm *form() const { return m_form; }
    LatencySparkline *sparkline() const { return m_sparkline; }
    offload::LatencyProbe *probe() const { return m_probe; }
    const StudioSettings &settings() const { return m_settings; }
    void applySettings(const StudioSettings &settings);
    void setQuitPolicy(QuitPolicy policy) { m_quitPolicy = policy; }
    void showHistory();
    void showMonitor();

    // The module shown in the form, by title, file name or path; false if it is not ready.
    bool selectModule(const QString &nameOrPath);
    QString currentModulePath() const;
    quint64 run(QString *error = nullptr); // the form's values
    quint64 runAgain(QString *error = nullptr); // the last run's module and values
    // Where runs go, as the "Run on" box takes it (offload::Launcher::parse); an invalid place
    // is shown as the form's error and disables running until it is corrected.
    void setRunOn(const QString &place);
    QString runOnError() const { return m_runOnError; }
    QString commandLineText() const; // as Copy command line puts it on the clipboard
    void loadRecord(const RunRecord &record); // its module and values into the form
    // Adds module files or folders (as a drop does) to the library and the settings.
    void addModulePaths(const QStringList &paths);

protected:
    void closeEvent(QCloseEvent *event) override;
    void dragEnterEvent(QDragEnterEvent *event) override;
    void dropEvent(QDropEvent *event) override;

private:
    void buildModulePane();
    void buildCentre();
    void buildDocks();
    void buildMenus();
    void showModule(int row);
    void openBatchDialog();
    void openSettingsDialog();
    void updateButtons();
    void applyRunOn();
    void rememberPlace();

    std::unique_ptr<QSettings> m_qsettings;
    StudioSettings m_settings;
    RunHistory *m_history;
    RunController *m_controller;
    ModuleLibrary *m_library;
    QSortFilterProxyModel *m_libraryFilter;
    QLineEdit *m_search = nullptr;
    QListView *m_modules = nullptr;
    QLabel *m_moduleTitle = nullptr, *m_moduleInfo = nullptr, *m_formError = nullptr,
           *m_historyStatus = nullptr;
    QScrollArea *m_formArea = nullptr;
    QPointer<offload::ModuleForm> m_form;
    QString m_formModulePath;
    QPushButton *m_run = nullptr, *m_runAgain = nullptr, *m_copy = nullptr, *m_batch = nullptr;
    QComboBox *m_runOn = nullptr;
    QString m_runOnError;
    MonitorPanel *m_monitor = nullptr;
    DetailsPane *m_details = nullptr;
    HistoryPanel *m_historyPanel = nullptr;
    QDockWidget *m_monitorDock = nullptr, *m_historyDock = nullptr;
    offload::LatencyProbe *m_probe;
    LatencySparkline *m_sparkline = nullptr;
    QuitPolicy m_quitPolicy = QuitPolicy::Ask;
    bool m_quitting = false;
    struct LastRun;
    std::unique_ptr<LastRun> m_lastRun;
};

} // namespace studio
