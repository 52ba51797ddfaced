#include "studiowindow.h"

#include "batchdialog.h"
#include "detailspane.h"
#include "historypanel.h"
#include "latencysparkline.h"
#include "modulelibrary.h"
#include "monitorpanel.h"
#include "runcontroller.h"

#include <offload/forms/moduleform.h>
#include <offload/monitor/taskmodel.h>
#include <offload/process/shellquote.h>

#include <QApplication>
#include <QClipboard>
#include <QCloseEvent>
#include <QComboBox>
#include <QDockWidget>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QListView>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QStatusBar>
#include <QTimer>
#include <QTreeView>
#include <QVBoxLayout>

namespace studio {

struct StudioWindow::LastRun
{
    offload::Module module;
    QVariantMap values;
    offload::Launcher launcher; // Run again goes where the run went
};

StudioWindow::StudioWindow(std::unique_ptr<QSettings> settings, QWidget *parent)
    : QMainWindow(parent)
    , m_qsettings(std::move(settings))
    , m_settings(StudioSettings::load(*m_qsettings))
    , m_history(new RunHistory(this))
    , m_controller(new RunController(m_history, this))
    , m_library(new ModuleLibrary(this))
    , m_libraryFilter(new QSortFilterProxyModel(this))
    , m_probe(new offload::LatencyProbe(this))
{
    setWindowTitle(tr("Offload Studio"));
    setAcceptDrops(true);
    setDockNestingEnabled(true);
    buildModulePane();
    buildCentre();
    buildDocks();
    buildMenus();

    m_sparkline = new LatencySparkline(m_probe, this);
    m_historyStatus = new QLabel(this);
    statusBar()->addWidget(m_historyStatus, 1);
    statusBar()->addPermanentWidget(m_sparkline);
    m_probe->start();
    // The probe keeps every sample; the sparkline has its own minute, so a long session
    // must not grow the probe's memory for ever.
    auto *trim = new QTimer(this);
    connect(trim, &QTimer::timeout, m_probe, &offload::LatencyProbe::reset);
    trim->start(60'000);

    connect(m_history, &RunHistory::problemOccurred, this, [this](const QString &message) {
        m_historyStatus->setText(tr("History: %1").arg(message));
    });
    connect(m_controller, &RunController::runEnded, this, [this](quint64 id) {
        // The form shows the return parameters of the last run of its module.
        const RunInfo *run = m_controller->info(id);
        if (m_form && run && run->module.path == m_formModulePath)
            m_form->setOutputValues(run->returnValues);
    });
    connect(m_library, &ModuleLibrary::discoveryFinished, this, [this] {
        statusBar()->showMessage(tr("%n module(s) found", nullptr, m_library->count()), 5000);
        if (!m_form && m_library->count() > 0 && m_modules->currentIndex().row() < 0)
            for (int r = 0; r < m_libraryFilter->rowCount(); ++r)
                if (m_libraryFilter->index(r, 0).data(ModuleLibrary::StatusRole).toInt()
                    == ModuleEntry::Ready) {
                    m_modules->setCurrentIndex(m_libraryFilter->index(r, 0));
                    break;
                }
    });

    applySettings(m_settings);
    m_library->addBundledFolder(QCoreApplication::applicationDirPath());
    for (const QString &p : m_settings.modulePaths)
        m_library->addPath(p);
    resize(1400, 900);
    restoreGeometry(m_qsettings->value(QStringLiteral("window/geometry")).toByteArray());
    restoreState(m_qsettings->value(QStringLiteral("window/state")).toByteArray());
    showModule(-1);
}

StudioWindow::~StudioWindow()
{
    m_probe->stop();
}

void StudioWindow::applySettings(const StudioSettings &settings)
{
    const QString oldHistory = m_history->path();
    m_settings = settings;
    m_settings.save(*m_qsettings);
    m_controller->setMaxParallel(m_settings.effectiveMaxParallel());
    m_controller->setCancelGrace(std::chrono::milliseconds(m_settings.cancelGraceMs));
    if (m_runOn)
        applyRunOn(); // the ssh configuration may have changed
    const QString path = m_settings.effectiveHistoryPath();
    if (path != oldHistory) {
        m_historyStatus->setText(tr("History: opening %1").arg(path));
        m_history->open(path).onFinished([this, path](const offload::TaskHandle<void> &t) {
            if (t.state() == offload::TaskState::Finished) {
                m_historyStatus->setText(tr("History: %1").arg(path));
                m_historyPanel->reload();
            } else {
                // Studio works without a history: runs are still shown and kept in memory.
                const QString why = t.state() == offload::TaskState::Failed ? t.error().message
                                                                            : tr("not opened");
                m_historyStatus->setText(tr("History disabled: %1").arg(why));
            }
        });
    }
}

void StudioWindow::buildModulePane()
{
    m_libraryFilter->setSourceModel(m_library);
    m_libraryFilter->setFilterRole(ModuleLibrary::SearchTextRole);
    m_libraryFilter->setFilterCaseSensitivity(Qt::CaseInsensitive);
    auto *pane = new QWidget(this);
    m_search = new QLineEdit(pane);
    m_search->setPlaceholderText(tr("Search modules"));
    m_search->setClearButtonEnabled(true);
    m_modules = new QListView(pane);
    m_modules->setModel(m_libraryFilter);
    m_modules->setUniformItemSizes(true);
    auto *hint = new QLabel(tr("Drop a module file or folder on the window to add it."), pane);
    hint->setWordWrap(true);
    hint->setEnabled(false);
    auto *layout = new QVBoxLayout(pane);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(m_search);
    layout->addWidget(m_modules, 1);
    layout->addWidget(hint);
    auto *dock = new QDockWidget(tr("Modules"), this);
    dock->setObjectName(QStringLiteral("modules"));
    dock->setWidget(pane);
    addDockWidget(Qt::LeftDockWidgetArea, dock);
    connect(m_search, &QLineEdit::textChanged, m_libraryFilter,
        &QSortFilterProxyModel::setFilterFixedString);
    connect(m_modules->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex &current) {
            showModule(m_libraryFilter->mapToSource(current).row());
        });
    connect(m_library, &ModuleLibrary::entryChanged, this, [this](int row) {
        // A module that finished discovery while selected: show its form now.
        if (m_library->entry(row).path == currentModulePath() && !m_form)
            showModule(row);
    });
}

void StudioWindow::buildCentre()
{
    auto *centre = new QWidget(this);
    m_moduleTitle = new QLabel(centre);
    QFont big = m_moduleTitle->font();
    big.setPointSizeF(big.pointSizeF() * 1.3);
    big.setBold(true);
    m_moduleTitle->setFont(big);
    m_moduleTitle->setTextFormat(Qt::PlainText);
    m_moduleInfo = new QLabel(centre);
    m_moduleInfo->setTextFormat(Qt::PlainText);
    m_moduleInfo->setWordWrap(true);
    m_formArea = new QScrollArea(centre);
    m_formArea->setWidgetResizable(true);
    m_formError = new QLabel(centre);
    m_formError->setTextFormat(Qt::PlainText);
    m_formError->setWordWrap(true);
    m_formError->setStyleSheet(QStringLiteral("color: #b00020"));
    m_run = new QPushButton(tr("Run"), centre);
    m_run->setDefault(true);
    m_runAgain = new QPushButton(tr("Run again"), centre);
    m_copy = new QPushButton(tr("Copy command line"), centre);
    m_batch = new QPushButton(tr("Batch…"), centre);
    m_runOn = new QComboBox(centre);
    m_runOn->setEditable(true);
    m_runOn->setInsertPolicy(QComboBox::NoInsert);
    m_runOn->setMinimumContentsLength(18);
    m_runOn->setSizeAdjustPolicy(QComboBox::AdjustToMinimumContentsLengthWithIcon);
    m_runOn->setToolTip(tr("Where runs go: local (this computer), ssh://user@host:port, "
                           "slurm:partition (a job step, output live) or sbatch:partition (a "
                           "batch job)"));
    m_runOn->addItem(QStringLiteral("local"));
    for (const QString &place : m_settings.recentPlaces)
        if (m_runOn->findText(place) < 0)
            m_runOn->addItem(place);
    m_runOn->setCurrentText(m_settings.runOn);
    auto *runOnLabel = new QLabel(tr("Run on"), centre);
    runOnLabel->setBuddy(m_runOn);
    auto *buttons = new QHBoxLayout;
    buttons->addWidget(runOnLabel);
    buttons->addWidget(m_runOn);
    buttons->addWidget(m_run);
    buttons->addWidget(m_runAgain);
    buttons->addWidget(m_batch);
    buttons->addStretch();
    buttons->addWidget(m_copy);
    auto *layout = new QVBoxLayout(centre);
    layout->addWidget(m_moduleTitle);
    layout->addWidget(m_moduleInfo);
    layout->addWidget(m_formArea, 1);
    layout->addWidget(m_formError);
    layout->addLayout(buttons);
    setCentralWidget(centre);

    connect(m_runOn, &QComboBox::currentTextChanged, this, [this] { applyRunOn(); });
    applyRunOn();
    connect(m_run, &QPushButton::clicked, this, [this] {
        QString error;
        if (!run(&error))
            m_formError->setText(error);
    });
    connect(m_runAgain, &QPushButton::clicked, this, [this] {
        QString error;
        if (!runAgain(&error))
            m_formError->setText(error);
    });
    connect(m_copy, &QPushButton::clicked, this, [this] {
        const QString text = commandLineText();
        if (!text.isEmpty()) {
            QApplication::clipboard()->setText(text);
            statusBar()->showMessage(tr("Command line copied"), 3000);
        }
    });
    connect(m_batch, &QPushButton::clicked, this, &StudioWindow::openBatchDialog);
}

void StudioWindow::buildDocks()
{
    m_monitor = new MonitorPanel(m_controller, this);
    m_monitorDock = new QDockWidget(tr("Tasks"), this);
    m_monitorDock->setObjectName(QStringLiteral("tasks"));
    m_monitorDock->setWidget(m_monitor);
    addDockWidget(Qt::BottomDockWidgetArea, m_monitorDock);

    m_historyPanel = new HistoryPanel(m_history, this);
    m_historyDock = new QDockWidget(tr("History"), this);
    m_historyDock->setObjectName(QStringLiteral("history"));
    m_historyDock->setWidget(m_historyPanel);
    addDockWidget(Qt::BottomDockWidgetArea, m_historyDock);
    tabifyDockWidget(m_monitorDock, m_historyDock);
    m_monitorDock->raise();

    m_details = new DetailsPane(m_controller, this);
    auto *detailsDock = new QDockWidget(tr("Details"), this);
    detailsDock->setObjectName(QStringLiteral("details"));
    detailsDock->setWidget(m_details);
    addDockWidget(Qt::RightDockWidgetArea, detailsDock);
    resizeDocks({ m_monitorDock }, { 380 }, Qt::Vertical);
    resizeDocks({ detailsDock }, { 420 }, Qt::Horizontal);

    connect(m_monitor, &MonitorPanel::currentTaskChanged, this, [this](quint64 id) {
        m_details->showTask(id ? m_monitor->model()->task(m_monitor->model()->indexOf(id))
                               : offload::TaskHandleBase());
    });
    connect(m_monitor, &MonitorPanel::retryRequested, this, [this](quint64 id) {
        if (const RunInfo *r = m_controller->info(id)) {
            QString error; // a retry goes where the run went
            if (!m_controller->run(r->module, r->values, &error, &r->launcher))
                statusBar()->showMessage(error, 5000);
        }
    });
    connect(m_monitor, &MonitorPanel::showLogRequested, this, [this](quint64 id) {
        m_monitor->selectTask(id);
        m_details->tabs()->setCurrentIndex(0);
    });
    connect(m_historyPanel, &HistoryPanel::loadRequested, this, &StudioWindow::loadRecord);
    connect(m_historyPanel, &HistoryPanel::rerunRequested, this, [this](const RunRecord &r) {
        const int row = m_library->find(r.modulePath);
        if (row < 0) {
            statusBar()->showMessage(tr("%1 is not in the library").arg(r.modulePath), 5000);
            return;
        }
        QString error = m_runOnError; // the history does not say where it ran: where Run goes
        if (!error.isEmpty() || !m_controller->run(m_library->entry(row).module, r.values, &error))
            statusBar()->showMessage(error, 5000);
        showMonitor();
    });
}

void StudioWindow::buildMenus()
{
    QMenu *file = menuBar()->addMenu(tr("&File"));
    file->addAction(
        tr("Re-scan modules"), this, [this] { m_library->reload(m_settings.modulePaths); });
    file->addAction(tr("Settings…"), this, &StudioWindow::openSettingsDialog);
    file->addSeparator();
    file->addAction(tr("Quit"), QKeySequence::Quit, this, &QWidget::close);
    QMenu *view = menuBar()->addMenu(tr("&View"));
    view->addAction(tr("Tasks"), this, &StudioWindow::showMonitor);
    view->addAction(tr("History"), this, &StudioWindow::showHistory);
}

void StudioWindow::showHistory()
{
    m_historyDock->show();
    m_historyDock->raise();
}

void StudioWindow::showMonitor()
{
    m_monitorDock->show();
    m_monitorDock->raise();
}

QString StudioWindow::currentModulePath() const
{
    const QModelIndex i = m_modules->currentIndex();
    return i.isValid() ? i.data(ModuleLibrary::PathRole).toString() : QString();
}

bool StudioWindow::selectModule(const QString &nameOrPath)
{
    const int row = m_library->find(nameOrPath);
    if (row < 0)
        return false;
    if (!m_search->text().isEmpty())
        m_search->clear();
    m_modules->setCurrentIndex(m_libraryFilter->mapFromSource(m_library->index(row)));
    return m_formModulePath == m_library->entry(row).path;
}

void StudioWindow::showModule(int row)
{
    if (m_form && !m_formModulePath.isEmpty())
        m_form->saveSettings(*m_qsettings);
    delete m_formArea->takeWidget();
    m_formModulePath.clear();
    m_formError->setText(m_runOnError); // a wrong place stays said
    if (row < 0 || row >= m_library->count()) {
        m_moduleTitle->setText(tr("No module selected"));
        m_moduleInfo->clear();
        updateButtons();
        return;
    }
    const ModuleEntry &e = m_library->entry(row);
    m_moduleTitle->setText(e.title());
    if (e.status != ModuleEntry::Ready) {
        m_moduleInfo->setText(e.status == ModuleEntry::Broken
                ? tr("This module cannot be used: %1").arg(e.error)
                : tr("Reading the module's description…"));
        updateButtons();
        return;
    }
    const auto &d = e.module.description;
    m_moduleInfo->setText(d.description.simplified().left(600) + QStringLiteral("\n") + e.path);
    auto *form = new offload::ModuleForm(d);
    form->setSettingsKey(e.path);
    form->restoreSettings(*m_qsettings);
    m_formArea->setWidget(form);
    m_form = form;
    m_formModulePath = e.path;
    connect(form, &offload::ModuleForm::validityChanged, this, &StudioWindow::updateButtons);
    connect(form, &offload::ModuleForm::valuesChanged, m_formError,
        [this] { m_formError->setText(m_runOnError); }); // a wrong place stays said
    updateButtons();
}

void StudioWindow::updateButtons()
{
    const bool ready = m_form && !m_formModulePath.isEmpty();
    m_run->setEnabled(ready && m_runOnError.isEmpty());
    m_batch->setEnabled(ready && m_runOnError.isEmpty());
    m_copy->setEnabled(ready);
    m_runAgain->setEnabled(bool(m_lastRun));
    if (ready && !m_form->isValid())
        m_run->setToolTip(m_form->errors().join(QLatin1Char('\n')));
    else
        m_run->setToolTip({});
}

quint64 StudioWindow::run(QString *error)
{
    const int row = m_library->rowOfPath(m_formModulePath);
    if (!m_form || row < 0 || m_library->entry(row).status != ModuleEntry::Ready) {
        if (error)
            *error = tr("Select a module first.");
        return 0;
    }
    if (!m_runOnError.isEmpty()) {
        if (error)
            *error = m_runOnError;
        return 0;
    }
    const offload::Module module = m_library->entry(row).module;
    const QVariantMap values = m_form->values();
    const quint64 id = m_controller->run(module, values, error);
    if (id) {
        rememberPlace();
        m_form->saveSettings(*m_qsettings);
        m_form->clearOutputValues();
        m_lastRun = std::make_unique<LastRun>(LastRun { module, values, m_controller->launcher() });
        updateButtons();
        showMonitor();
    }
    return id;
}

quint64 StudioWindow::runAgain(QString *error)
{
    if (!m_lastRun) {
        if (error)
            *error = tr("Nothing has run yet.");
        return 0;
    }
    return m_controller->run(m_lastRun->module, m_lastRun->values, error, &m_lastRun->launcher);
}

void StudioWindow::setRunOn(const QString &place)
{
    m_runOn->setCurrentText(place); // applyRunOn() follows
}

void StudioWindow::applyRunOn()
{
    QString why;
    auto launcher = offload::Launcher::parse(m_runOn->currentText().trimmed(), &why);
    const bool wasShown = !m_runOnError.isEmpty() && m_formError->text() == m_runOnError;
    m_runOnError = launcher ? QString() : tr("Run on: %1").arg(why);
    if (launcher) {
        if (launcher->kind() == offload::Launcher::Kind::Ssh
            && !m_settings.sshConfigFile.isEmpty()) {
            offload::SshTarget target = launcher->sshTarget();
            target.configFile = m_settings.sshConfigFile;
            launcher = offload::Launcher::ssh(target);
        }
        m_controller->setLauncher(*launcher);
        if (wasShown)
            m_formError->clear();
    } else {
        m_formError->setText(m_runOnError);
    }
    updateButtons();
}

// The place of a run that started: the default from now on, first among the recent ones.
void StudioWindow::rememberPlace()
{
    const QString place = m_runOn->currentText().trimmed();
    m_settings.runOn = place;
    if (place != QLatin1String("local")) {
        m_settings.recentPlaces.removeAll(place);
        m_settings.recentPlaces.prepend(place);
        m_settings.recentPlaces = m_settings.recentPlaces.mid(0, 8);
        if (m_runOn->findText(place) < 0)
            m_runOn->addItem(place);
    }
    m_settings.save(*m_qsettings);
}

QString StudioWindow::commandLineText() const
{
    const int row = m_library->rowOfPath(m_formModulePath);
    if (!m_form || row < 0)
        return {};
    QString error;
    const QStringList argv
        = RunController::commandLine(m_library->entry(row).module, m_form->values(), &error);
    if (argv.isEmpty()) {
        m_formError->setText(error);
        return {};
    }
    return offload::shellQuote(argv);
}

void StudioWindow::loadRecord(const RunRecord &record)
{
    if (!selectModule(record.modulePath)) {
        statusBar()->showMessage(tr("%1 is not in the library").arg(record.modulePath), 5000);
        return;
    }
    const QStringList complaints = m_form->setValues(record.values);
    if (!complaints.isEmpty())
        m_formError->setText(complaints.join(QLatin1Char('\n')));
}

void StudioWindow::openBatchDialog()
{
    const int row = m_library->rowOfPath(m_formModulePath);
    if (!m_form || row < 0)
        return;
    const offload::Module module = m_library->entry(row).module;
    BatchDialog dialog(module.description, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    QString error;
    if (!m_controller->runBatch(module, m_form->values(), dialog.parameter(), dialog.inputs(),
            dialog.parallel(), &error))
        m_formError->setText(error);
    else
        showMonitor();
}

void StudioWindow::openSettingsDialog()
{
    SettingsDialog dialog(m_settings, this);
    if (dialog.exec() != QDialog::Accepted)
        return;
    const QStringList oldPaths = m_settings.modulePaths;
    applySettings(dialog.settings());
    if (m_settings.modulePaths != oldPaths)
        m_library->reload(m_settings.modulePaths);
}

void StudioWindow::addModulePaths(const QStringList &paths)
{
    StudioSettings s = m_settings;
    for (const QString &p : paths) {
        const QString abs = QFileInfo(p).absoluteFilePath();
        m_library->addPath(abs);
        if (!s.modulePaths.contains(abs))
            s.modulePaths << abs;
    }
    applySettings(s);
}

void StudioWindow::dragEnterEvent(QDragEnterEvent *event)
{
    if (event->mimeData()->hasUrls())
        for (const QUrl &u : event->mimeData()->urls())
            if (u.isLocalFile()) {
                event->acceptProposedAction();
                return;
            }
}

void StudioWindow::dropEvent(QDropEvent *event)
{
    QStringList paths;
    for (const QUrl &u : event->mimeData()->urls())
        if (u.isLocalFile())
            paths << u.toLocalFile();
    if (!paths.isEmpty()) {
        addModulePaths(paths);
        event->acceptProposedAction();
    }
}

void StudioWindow::closeEvent(QCloseEvent *event)
{
    const int active = m_controller->activeCount();
    if (active > 0) {
        if (!m_quitting && m_quitPolicy == QuitPolicy::Ask) {
            const auto answer = QMessageBox::question(this, tr("Quit Offload Studio"),
                tr("%n run(s) still active. Cancel them and quit?", nullptr, active),
                QMessageBox::Yes | QMessageBox::No, QMessageBox::No);
            if (answer != QMessageBox::Yes) {
                event->ignore();
                return;
            }
        }
        // Cancel, then close again once every run has ended (its processes reaped); the
        // runners' destructors bound the wait should one refuse to die.
        event->ignore();
        if (!m_quitting) {
            m_quitting = true;
            statusBar()->showMessage(tr("Stopping %n run(s)…", nullptr, active));
            connect(m_controller, &RunController::allEnded, this, &QWidget::close,
                Qt::QueuedConnection);
            QTimer::singleShot(m_settings.cancelGraceMs + 5000, this, [this] {
                m_controller->disconnect(this);
                m_quitPolicy = QuitPolicy::CancelRuns;
                m_quitting = false;
                hide();
                QCoreApplication::quit();
            });
            m_controller->cancelAll();
        }
        return;
    }
    if (m_form && !m_formModulePath.isEmpty())
        m_form->saveSettings(*m_qsettings);
    m_qsettings->setValue(QStringLiteral("window/geometry"), saveGeometry());
    m_qsettings->setValue(QStringLiteral("window/state"), saveState());
    m_qsettings->sync();
    event->accept();
}

} // namespace studio
