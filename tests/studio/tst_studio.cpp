// Offload Studio end to end: the real window, modules, runs, the monitor, the details pane and
// the history. Runs offscreen in the suite and again under Xvfb (tst_studio_xvfb) where it also
// saves screenshots.
#include "../common/testsupport.h"
#include <offload/process/shellquote.h>

#include "batchdialog.h"
#include "detailspane.h"
#include "historypanel.h"
#include "latencysparkline.h"
#include "modulelibrary.h"
#include "monitorpanel.h"
#include "runcontroller.h"
#include "scriptsession.h"
#include "statedelegate.h"
#include "studiowindow.h"

#include <offload/core/threadpool.h>
#include <offload/forms/moduleform.h>
#include <offload/monitor/taskmodel.h>
#include <offload/process/programrunner.h>

#include <QApplication>
#include <QClipboard>
#include <QDir>
#include <QElapsedTimer>
#include <QFile>
#include <QImage>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMessageBox>
#include <QMimeData>
#include <QPushButton>
#include <QSettings>
#include <QSortFilterProxyModel>
#include <QSpinBox>
#include <QTableView>
#include <QTemporaryDir>
#include <QTreeView>
#include <QUrl>
#include <QtTest>

#include <cerrno>
#include <csignal>

#include <sys/stat.h>

using namespace studio;
using offload::TaskState;

namespace {

QString binPath(const QString &name)
{
    return QCoreApplication::applicationDirPath() + QLatin1Char('/') + name;
}

bool processGone(qint64 pid)
{
    return ::kill(pid_t(pid), 0) == -1 && errno == ESRCH;
}

// A module made of a shell script and its sidecar description (one integer, "n").
bool writeModule(const QString &dir, const QString &name, const QByteArray &script)
{
    QFile xml(dir + QLatin1Char('/') + name + QStringLiteral(".xml"));
    QFile exe(dir + QLatin1Char('/') + name);
    if (!xml.open(QIODevice::WriteOnly) || !exe.open(QIODevice::WriteOnly))
        return false;
    xml.write("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<executable><title>" + name.toUtf8()
        + "</title><parameters><label>All</label><description>d</description>"
          "<integer><name>n</name><longflag>n</longflag><label>N</label><description>d"
          "</description><default>1</default></integer></parameters></executable>\n");
    exe.write("#!/bin/sh\n" + script);
    return exe.setPermissions(exe.permissions() | QFileDevice::ExeOwner);
}

void saveShot(QWidget *w, const char *name)
{
    const QByteArray dir = qgetenv("OFFLOAD_SCREENSHOT_DIR");
    if (dir.isEmpty())
        return;
    QVERIFY(w->grab().save(QString::fromLocal8Bit(dir) + QLatin1Char('/') + QLatin1String(name)));
}

} // namespace

class tst_Studio : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void init();
    void cleanup();

    void discoversBundledAndBrokenModulesWithoutBlocking();
    void threeConcurrentRunsCancelFailAndSurviveARestart();
    void batchOfTwentyNeverRunsMoreThanTwo();
    void monitorShowsTenThousandTasksWhileTheyUpdate();
    void monitorFiltersAndContextMenu();
    void corruptHistoryDisablesItAndKeepsRuns();
    void quitCancelsRunsAndReapsTheirProcesses();
    void quitAsksFirstWhileRunsAreActive();
    void batchDialogFillsRangesAndFolders();
    void copyCommandLineIsShellQuoted();
    void droppingAFolderAddsItsModules();
    void runOnChoosesWhereRunsGo();

    // Hostile inputs: each of these found a defect.
    void batchOfAHundredThousandInputsStaysResponsiveAndCancels();
    void batchRefusesAParameterItCannotVary();
    void numericRangeHasAtMostAHundredThousandValues();
    void valuesOfTheWrongShapeAreRefused();
    void scriptsThatAreNotScriptsAreRefusedWithoutBlocking();
    void scriptReportsAScreenshotItCannotSave();
    void modulePathsThatAreNotFilesAreBrokenAtOnce();
    void historyPanelShowsTheNewestRunsOnly();
    // And a guard: binary output and an endless stream in the details pane.
    void detailsShowBinaryOutputAndKeepTheTailBounded();

private:
    std::unique_ptr<StudioWindow> openStudio();
    void setModulePaths(const QStringList &paths);
    bool waitForDiscovery(StudioWindow &w);
    QVariantMap blurValues(int iterations, bool fail = false);

    std::unique_ptr<QTemporaryDir> m_dir;
};

void tst_Studio::init()
{
    m_dir = std::make_unique<QTemporaryDir>();
    QVERIFY(m_dir->isValid());
    QSettings s(m_dir->filePath(QStringLiteral("studio.ini")), QSettings::IniFormat);
    s.setValue(QStringLiteral("history/path"), m_dir->filePath(QStringLiteral("history.sqlite")));
    s.setValue(QStringLiteral("runs/cancelGraceMs"), 500);
}

void tst_Studio::cleanup()
{
    m_dir.reset();
}

std::unique_ptr<StudioWindow> tst_Studio::openStudio()
{
    auto w = std::make_unique<StudioWindow>(std::make_unique<QSettings>(
        m_dir->filePath(QStringLiteral("studio.ini")), QSettings::IniFormat));
    w->setQuitPolicy(StudioWindow::QuitPolicy::CancelRuns);
    w->show();
    return w;
}

void tst_Studio::setModulePaths(const QStringList &paths)
{
    QSettings s(m_dir->filePath(QStringLiteral("studio.ini")), QSettings::IniFormat);
    s.setValue(QStringLiteral("modules/paths"), paths);
}

bool tst_Studio::waitForDiscovery(StudioWindow &w)
{
    QElapsedTimer t;
    t.start();
    while (w.library()->isDiscovering() && t.elapsed() < 30000)
        QTest::qWait(20);
    return !w.library()->isDiscovering();
}

QVariantMap tst_Studio::blurValues(int iterations, bool fail)
{
    return { { QStringLiteral("iterations"), iterations }, { QStringLiteral("fail"), fail },
        { QStringLiteral("summary"),
            m_dir->filePath(QStringLiteral("summary-%1.txt").arg(iterations)) } };
}

void tst_Studio::discoversBundledAndBrokenModulesWithoutBlocking()
{
    // A folder with a module whose --xml never answers and one that prints garbage.
    const QString folder = m_dir->filePath(QStringLiteral("modules"));
    QVERIFY(QDir().mkpath(folder));
    QVERIFY(QFile::link(
        binPath(QStringLiteral("testmodule")), folder + QStringLiteral("/hang-module")));
    QVERIFY(QFile::link(
        binPath(QStringLiteral("testmodule")), folder + QStringLiteral("/garbage-module")));
    {
        QSettings s(m_dir->filePath(QStringLiteral("studio.ini")), QSettings::IniFormat);
        s.setValue(QStringLiteral("modules/paths"), QStringList { folder });
    }
    auto w = openStudio();
    // While the hanging module is being described, the bundled modules are usable and a run
    // goes through: nothing waits for the hang.
    QTRY_VERIFY_WITH_TIMEOUT(
        w->library()->find(QStringLiteral("offload-example-blur")) >= 0, 20000);
    QVERIFY(w->library()->isDiscovering());
    QVERIFY(w->selectModule(QStringLiteral("offload-example-blur")));
    QVERIFY(w->form()->setValues(blurValues(5)).isEmpty());
    QString error;
    const quint64 id = w->run(&error);
    QVERIFY2(id, qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(
        w->controller()->info(id) && w->controller()->info(id)->state == TaskState::Finished,
        20000);
    QVERIFY(w->library()->isDiscovering()); // the hang is still being waited for (5 s)

    QVERIFY(waitForDiscovery(*w));
    const auto *lib = w->library();
    QVERIFY(lib->find(QStringLiteral("Synthetic Blur")) >= 0);
    QVERIFY(lib->find(QStringLiteral("offload-example-histogram.py")) >= 0);
    for (const char *broken : { "hang-module", "garbage-module" }) {
        const int row = lib->rowOfPath(folder + QLatin1Char('/') + QLatin1String(broken));
        QVERIFY2(row >= 0, broken);
        QCOMPARE(lib->entry(row).status, ModuleEntry::Broken);
        QVERIFY2(!lib->entry(row).error.isEmpty(), broken);
    }
    QVERIFY(lib->entry(lib->rowOfPath(folder + QStringLiteral("/hang-module")))
                .error.contains(QLatin1String("imeout"))
        || lib->entry(lib->rowOfPath(folder + QStringLiteral("/hang-module")))
               .error.contains(QLatin1String("time")));
}

void tst_Studio::threeConcurrentRunsCancelFailAndSurviveARestart()
{
    quint64 slow = 0, failing = 0, histogram = 0;
    {
        auto w = openStudio();
        QVERIFY(waitForDiscovery(*w));
        QVERIFY(w->selectModule(QStringLiteral("offload-example-blur")));
        // Fill the form through its editor, as a user would.
        auto *iterations
            = qobject_cast<QSpinBox *>(w->form()->editor(QStringLiteral("iterations")));
        QVERIFY(iterations);
        iterations->setValue(100000); // long enough to be cancelled while running
        QVERIFY(w->form()
                    ->setValues({ { QStringLiteral("summary"),
                        m_dir->filePath(QStringLiteral("slow.txt")) } })
                    .isEmpty());
        QString error;
        slow = w->run(&error);
        QVERIFY2(slow, qPrintable(error));
        QVERIFY(w->form()->setValues(blurValues(10, true)).isEmpty());
        failing = w->run(&error);
        QVERIFY2(failing, qPrintable(error));
        QVERIFY(w->selectModule(QStringLiteral("offload-example-histogram.py")));
        QVERIFY(w->form()->setValues({ { QStringLiteral("count"), 20000 } }).isEmpty());
        histogram = w->run(&error);
        QVERIFY2(histogram, qPrintable(error));

        RunController *c = w->controller();
        QTRY_VERIFY_WITH_TIMEOUT(c->info(slow)->task.processInfo().pid > 0
                && c->info(slow)->task.state() == TaskState::Running,
            20000);
        const qint64 pid = c->info(slow)->task.processInfo().pid;
        QTRY_COMPARE_WITH_TIMEOUT(c->info(failing)->state, TaskState::Failed, 20000);
        QTRY_COMPARE_WITH_TIMEOUT(c->info(histogram)->state, TaskState::Finished, 30000);
        w->monitor()->model()->refresh();
        saveShot(w.get(), "studio-runs.png");

        // Cancel through the row's own button, painted by the State column's delegate.
        QTreeView *view = w->monitor()->view();
        const QModelIndex cell = w->monitor()->toView(
            w->monitor()->model()->indexOf(slow, offload::TaskModel::Column::State));
        QVERIFY(cell.isValid());
        view->scrollTo(cell);
        QTest::mouseClick(view->viewport(), Qt::LeftButton, {},
            StateDelegate::cancelRect(view->visualRect(cell)).center());
        QTRY_COMPARE_WITH_TIMEOUT(c->info(slow)->state, TaskState::Cancelled, 20000);
        QTRY_VERIFY_WITH_TIMEOUT(processGone(pid), 10000); // killed and reaped

        // The failed run's details: the structured error, the stderr tail, the partial returns.
        w->monitor()->selectTask(failing);
        QCOMPARE(w->details()->taskId(), failing);
        QVERIFY2(w->details()->errorText().contains(QLatin1String("exit")),
            qPrintable(w->details()->errorText()));
        QVERIFY(w->details()->stderrText().contains(QLatin1String("failing on request")));
        QCOMPARE(w->details()->returnValuesShown().value(QStringLiteral("status")).toString(),
            QStringLiteral("failed on request"));
        QVERIFY(w->details()->commandLineText().contains(QLatin1String("--fail")));
        saveShot(w.get(), "studio-failed-details.png");
        QTRY_VERIFY_WITH_TIMEOUT(c->info(slow)->historyId > 0 && c->info(failing)->historyId > 0
                && c->info(histogram)->historyId > 0,
            20000);
        w->close();
    }
    // A new Studio on the same settings finds all three in its history.
    auto w = openStudio();
    w->showHistory();
    QTRY_COMPARE_WITH_TIMEOUT(w->historyPanel()->model()->rowCount(), 3, 20000);
    QStringList states;
    for (const RunRecord &r : w->historyPanel()->model()->records())
        states << r.state;
    states.sort();
    QCOMPARE(states,
        (QStringList {
            QStringLiteral("cancelled"), QStringLiteral("failed"), QStringLiteral("finished") }));
    const auto records = w->historyPanel()->model()->records();
    const auto failed = std::find_if(records.begin(), records.end(),
        [](const RunRecord &r) { return r.state == QLatin1String("failed"); });
    QCOMPARE(failed->exitCode, 3);
    QCOMPARE(failed->returnValues.value(QStringLiteral("status")).toString(),
        QStringLiteral("failed on request"));
    QVERIFY(failed->commandLine.contains(QStringLiteral("--fail")));
    // Searching finds the failed one; loading it puts its values back into the form.
    w->historyPanel()->setSearchText(QStringLiteral("failed"));
    QTRY_COMPARE_WITH_TIMEOUT(w->historyPanel()->model()->rowCount(), 1, 20000);
    QVERIFY(waitForDiscovery(*w));
    w->loadRecord(w->historyPanel()->model()->record(0));
    QCOMPARE(w->form()->values().value(QStringLiteral("fail")).toBool(), true);
    QCOMPARE(w->form()->values().value(QStringLiteral("iterations")).toLongLong(), 10);
    w->historyPanel()->setSearchText({});
    QTRY_COMPARE_WITH_TIMEOUT(w->historyPanel()->model()->rowCount(), 3, 20000);
    saveShot(w.get(), "studio-history.png");
}

void tst_Studio::batchOfTwentyNeverRunsMoreThanTwo()
{
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    const int row = w->library()->find(QStringLiteral("offload-example-histogram.py"));
    QVERIFY(row >= 0);
    QVariantList seeds;
    for (int i = 1; i <= 20; ++i)
        seeds << i;
    RunController *c = w->controller();
    int mostAlive = 0;
    // Checked on every start and every 2 ms while the batch runs.
    QTimer sampler;
    connect(&sampler, &QTimer::timeout, this,
        [&] { mostAlive = std::max(mostAlive, c->aliveProcessCount()); });
    connect(c, &RunController::runStarted, this,
        [&] { mostAlive = std::max(mostAlive, c->aliveProcessCount()); });
    sampler.start(2);
    QString error;
    const quint64 batch = c->runBatch(w->library()->entry(row).module,
        { { QStringLiteral("count"), 5000 } }, QStringLiteral("seed"), seeds, 2, &error);
    QVERIFY2(batch, qPrintable(error));
    offload::TaskModel *model = w->monitor()->model();
    QTRY_VERIFY_WITH_TIMEOUT(model->indexOf(batch).isValid(), 5000);
    QTRY_VERIFY_WITH_TIMEOUT(c->activeCount() == 0, 120000);
    sampler.stop();
    QVERIFY2(mostAlive <= 2, qPrintable(QString::number(mostAlive)));
    QCOMPARE(mostAlive, 2); // and it did run two at once
    model->refresh();
    const QModelIndex parent = model->indexOf(batch);
    QCOMPARE(model->rowCount(parent), 20);
    QCOMPARE(model->task(parent).state(), TaskState::Finished);
    QCOMPARE(parent.siblingAtColumn(int(offload::TaskModel::Column::Progress))
                 .data(offload::TaskModel::FractionRole)
                 .toDouble(),
        1.0);
    for (int r = 0; r < 20; ++r)
        QCOMPARE(model->task(model->index(r, 0, parent)).state(), TaskState::Finished);
}

void tst_Studio::monitorShowsTenThousandTasksWhileTheyUpdate()
{
    auto w = openStudio();
    w->showMonitor();
    offload::ThreadPool pool({ .maxThreads = 2 });
    std::atomic<bool> release { false };
    std::vector<offload::TaskHandle<int>> tasks;
    tasks.reserve(10000);
    for (int i = 0; i < 10000; ++i)
        tasks.push_back(pool.run(w.get(),
            [i, &release](offload::TaskControl &c) {
                for (int step = 0; step <= 4; ++step)
                    c.setProgress(step * 25, QStringLiteral("step %1").arg(step));
                // The first hundred stay running until released, so that the view has live rows.
                while (i < 100 && !release.load())
                    std::this_thread::yield();
                return i;
            },
            { QStringLiteral("task %1").arg(i) }));
    offload::TaskModel *model = w->monitor()->model();
    QTRY_VERIFY_WITH_TIMEOUT(model->rowCount() >= 10000, 60000);
    QTreeView *view = w->monitor()->view();
    view->scrollToBottom();
    saveShot(w.get(), "studio-ten-thousand.png");
    w->monitor()->setStateFilter(MonitorPanel::Active);
    QTRY_VERIFY_WITH_TIMEOUT(w->monitor()->proxy()->rowCount() > 0, 10000);
    release = true;
    QTRY_VERIFY_WITH_TIMEOUT(
        std::all_of(tasks.begin(), tasks.end(), [](const auto &t) { return t.isFinal(); }), 60000);
    QTRY_COMPARE_WITH_TIMEOUT(w->monitor()->proxy()->rowCount(), 0, 10000);
    w->monitor()->setStateFilter(MonitorPanel::Finished);
    QTRY_VERIFY_WITH_TIMEOUT(w->monitor()->proxy()->rowCount() >= 10000, 10000);
}

void tst_Studio::monitorFiltersAndContextMenu()
{
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    QVERIFY(w->selectModule(QStringLiteral("offload-example-blur")));
    QVERIFY(w->form()->setValues(blurValues(10, true)).isEmpty());
    QString error;
    const quint64 failing = w->run(&error);
    QVERIFY2(failing, qPrintable(error));
    const auto thread
        = offload::run(w.get(), [] { return 1; }, { QStringLiteral("a thread task") });
    RunController *c = w->controller();
    QTRY_COMPARE_WITH_TIMEOUT(c->info(failing)->state, TaskState::Failed, 20000);
    QTRY_VERIFY_WITH_TIMEOUT(thread.isFinal(), 20000);
    MonitorPanel *m = w->monitor();
    m->model()->refresh();

    m->setStateFilter(MonitorPanel::Failed);
    QCOMPARE(m->proxy()->rowCount(), 1);
    QCOMPARE(m->proxy()->index(0, 0).data(offload::TaskModel::TaskIdRole).toULongLong(), failing);
    m->setStateFilter(MonitorPanel::AllStates);
    m->setKindFilter(QStringLiteral("thread"));
    QStringList shown; // Studio's own folder listings are thread tasks too
    for (int r = 0; r < m->proxy()->rowCount(); ++r) {
        QCOMPARE(m->proxy()->index(r, int(offload::TaskModel::Column::Kind)).data().toString(),
            QStringLiteral("thread"));
        shown << m->proxy()->index(r, 0).data().toString();
    }
    QVERIFY2(
        shown.contains(QStringLiteral("a thread task")), qPrintable(shown.join(QLatin1Char(','))));
    m->setKindFilter({});

    QCOMPARE(m->menuActions(thread.id()), QStringList()); // not a module run, already ended
    const QStringList actions = m->menuActions(failing);
    QVERIFY(actions.contains(QStringLiteral("Retry")));
    QVERIFY(actions.contains(QStringLiteral("Copy command line")));
    QVERIFY(actions.contains(QStringLiteral("Open output folder")));
    QVERIFY(!actions.contains(QStringLiteral("Cancel")));
    QVERIFY(m->trigger(failing, QStringLiteral("Copy command line")));
    QCOMPARE(QApplication::clipboard()->text(), offload::shellQuote(c->info(failing)->commandLine));
    QSignalSpy started(c, &RunController::runStarted);
    QVERIFY(m->trigger(failing, QStringLiteral("Retry")));
    QCOMPARE(started.count(), 1);
    const quint64 retry = started.at(0).at(0).toULongLong();
    QCOMPARE(c->info(retry)->values, c->info(failing)->values);
    QTRY_VERIFY_WITH_TIMEOUT(isFinalState(c->info(retry)->state), 20000);
}

void tst_Studio::corruptHistoryDisablesItAndKeepsRuns()
{
    const QString db = m_dir->filePath(QStringLiteral("history.sqlite"));
    QByteArray garbage(8192, '\0');
    for (int i = 0; i < garbage.size(); ++i)
        garbage[i] = char((i * 131) ^ 0x5a);
    {
        QFile f(db);
        QVERIFY(f.open(QIODevice::WriteOnly));
        f.write(garbage);
    }
    auto w = openStudio();
    QTRY_VERIFY_WITH_TIMEOUT(!w->history()->problem().isEmpty(), 20000);
    QVERIFY(!w->history()->isAvailable());
    QTRY_VERIFY_WITH_TIMEOUT(
        w->historyPanel()->statusText().contains(QLatin1String("disabled")), 5000);
    QVERIFY(waitForDiscovery(*w));
    QVERIFY(w->selectModule(QStringLiteral("offload-example-blur")));
    QVERIFY(w->form()->setValues(blurValues(5)).isEmpty());
    QString error;
    const quint64 id = w->run(&error);
    QVERIFY2(id, qPrintable(error));
    QTRY_COMPARE_WITH_TIMEOUT(w->history()->unsaved().size(), 1, 20000);
    QTRY_COMPARE_WITH_TIMEOUT(
        w->historyPanel()->model()->rowCount(), 1, 5000); // shown, marked not saved
    QFile f(db);
    QVERIFY(f.open(QIODevice::ReadOnly));
    QCOMPARE(f.readAll(), garbage); // the user's file is never overwritten
}

void tst_Studio::quitCancelsRunsAndReapsTheirProcesses()
{
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    QVERIFY(w->selectModule(QStringLiteral("offload-example-blur")));
    QVERIFY(w->form()->setValues(blurValues(100000)).isEmpty());
    QString error;
    const quint64 a = w->run(&error), b = w->run(&error);
    QVERIFY(a && b);
    RunController *c = w->controller();
    QTRY_VERIFY_WITH_TIMEOUT(
        c->info(a)->task.processInfo().pid > 0 && c->info(b)->task.processInfo().pid > 0, 20000);
    const qint64 pa = c->info(a)->task.processInfo().pid, pb = c->info(b)->task.processInfo().pid;
    QVERIFY(!w->close()); // not yet: the runs are being cancelled
    QVERIFY(w->isVisible());
    QTRY_VERIFY_WITH_TIMEOUT(!w->isVisible(), 20000); // closed itself once both ended
    QCOMPARE(c->activeCount(), 0);
    QVERIFY(processGone(pa));
    QVERIFY(processGone(pb));
}

// Answers the next modal question box with the given button, from inside its own event loop.
static void answerNextQuestion(QObject *context, QMessageBox::StandardButton answer, bool *asked)
{
    auto *poll = new QTimer(context);
    QObject::connect(poll, &QTimer::timeout, context, [poll, answer, asked] {
        if (auto *box = qobject_cast<QMessageBox *>(QApplication::activeModalWidget())) {
            *asked = true;
            box->button(answer)->click();
            poll->deleteLater();
        }
    });
    poll->start(10);
}

void tst_Studio::quitAsksFirstWhileRunsAreActive()
{
    auto w = openStudio();
    w->setQuitPolicy(StudioWindow::QuitPolicy::Ask);
    QVERIFY(waitForDiscovery(*w));
    QVERIFY(w->selectModule(QStringLiteral("offload-example-blur")));
    QVERIFY(w->form()->setValues(blurValues(100000)).isEmpty());
    QString error;
    const quint64 id = w->run(&error);
    QVERIFY2(id, qPrintable(error));
    bool asked = false;
    answerNextQuestion(this, QMessageBox::No, &asked);
    QVERIFY(!w->close());
    QVERIFY(asked);
    QVERIFY(w->isVisible());
    QVERIFY(!isFinalState(w->controller()->info(id)->task.state())); // "No" touched nothing
    asked = false;
    answerNextQuestion(this, QMessageBox::Yes, &asked);
    QVERIFY(!w->close()); // closes itself once the run has ended
    QVERIFY(asked);
    QTRY_VERIFY_WITH_TIMEOUT(!w->isVisible(), 20000);
    QCOMPARE(w->controller()->info(id)->state, TaskState::Cancelled);
}

void tst_Studio::batchDialogFillsRangesAndFolders()
{
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    const int row = w->library()->find(QStringLiteral("offload-example-blur"));
    QVERIFY(row >= 0);
    BatchDialog dialog(w->library()->entry(row).module.description);
    dialog.setParameter(QStringLiteral("iterations"));
    QCOMPARE(dialog.parameter(), QStringLiteral("iterations"));
    dialog.fillRange(5, 20, 5);
    QCOMPARE(dialog.inputs(), (QVariantList { 5LL, 10LL, 15LL, 20LL })); // typed for an integer
    QVERIFY(numericRange(1, 2, 0, true).isEmpty()); // a step of 0 never ends
    QVERIFY(numericRange(1, 2, -1, true).isEmpty()); // nor one going the wrong way
    QVERIFY(numericRange(0, 1e9, 1, true).isEmpty()); // more than 100,000 runs
    QCOMPARE(numericRange(0, 0.3, 0.1, false).size(), 4); // rounding does not lose the last

    const QString folder = m_dir->filePath(QStringLiteral("inputs"));
    QVERIFY(QDir().mkpath(folder));
    for (const char *n : { "a.nrrd", "b.nrrd", "c.txt" })
        QVERIFY(QFile(folder + QLatin1Char('/') + QLatin1String(n)).open(QIODevice::WriteOnly));
    dialog.setParameter(QStringLiteral("summary"));
    dialog.setInputs({});
    const auto listing = dialog.fillFromFolder(folder, QStringLiteral("*.nrrd"));
    QTRY_VERIFY_WITH_TIMEOUT(listing.isFinal(), 10000);
    QTRY_COMPARE_WITH_TIMEOUT(dialog.inputs().size(), 2, 5000);
    QCOMPARE(dialog.inputs().at(0).toString(), folder + QStringLiteral("/a.nrrd"));
}

void tst_Studio::copyCommandLineIsShellQuoted()
{
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    QVERIFY(w->selectModule(QStringLiteral("offload-example-blur")));
    QVERIFY(w->form()
                ->setValues({ { QStringLiteral("summary"), QStringLiteral("/tmp/it's here.txt") } })
                .isEmpty());
    const QString line = w->commandLineText();
    QVERIFY2(line.endsWith(QLatin1String("'/tmp/it'\\''s here.txt'")), qPrintable(line));
    QVERIFY(
        line.startsWith(offload::shellQuote({ binPath(QStringLiteral("offload-example-blur")) })));
}

void tst_Studio::runOnChoosesWhereRunsGo()
{
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    QVERIFY(w->selectModule(QStringLiteral("offload-example-blur")));
    QVERIFY(w->form()->setValues(blurValues(1)).isEmpty());
    // A place that is not one: said at once, and nothing runs until it is corrected.
    for (const char *bad : { "nowhere", "ssh://-oProxyCommand=x", "slurm:a b" }) {
        w->setRunOn(QString::fromLatin1(bad));
        QVERIFY2(w->runOnError().startsWith(QStringLiteral("Run on: ")), bad);
        QString error;
        QCOMPARE(w->run(&error), quint64(0));
        QCOMPARE(error, w->runOnError());
    }
    w->setRunOn(QStringLiteral("local"));
    QVERIFY(w->runOnError().isEmpty());
    QString error;
    const quint64 here = w->run(&error);
    QVERIFY2(here, qPrintable(error));
    RunController *c = w->controller();
    QTRY_COMPARE_WITH_TIMEOUT(c->info(here)->state, TaskState::Finished, 30000);
    QVERIFY(c->info(here)->task.processInfo().location.isEmpty()); // this machine

    const QString sshConfig = qEnvironmentVariable("OFFLOAD_TEST_SSH_CONFIG");
    if (sshConfig.isEmpty())
        QSKIP("the ssh part needs the testbed (scripts/testbed up, as scripts/test does)");
#ifdef __SANITIZE_THREAD__
    QSKIP("the ssh part: a ThreadSanitizer module needs setarch -R over there, which Studio "
          "does not add");
#endif
    StudioSettings settings = w->settings();
    settings.sshConfigFile = sshConfig;
    w->applySettings(settings);
    w->setRunOn(QStringLiteral("ssh://offload-test"));
    QVERIFY(w->runOnError().isEmpty());
    // Written by the test's remote user: in a directory it may write to.
    const QString summary = QStringLiteral("/tmp/offload-studio-summary-%1.txt")
                                .arg(QCoreApplication::applicationPid());
    const auto removeSummary = qScopeGuard([&] { QFile::remove(summary); });
    QVERIFY(w->form()->setValues({ { QStringLiteral("summary"), summary } }).isEmpty());
    const quint64 there = w->run(&error);
    QVERIFY2(there, qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(isFinalState(c->info(there)->state), 60000);
    QVERIFY2(
        c->info(there)->state == TaskState::Finished, qPrintable(c->info(there)->error.message));
    QVERIFY2(c->info(there)->task.processInfo().location.startsWith(QStringLiteral("ssh://")),
        qPrintable(c->info(there)->task.processInfo().location));
    QVERIFY(QFileInfo(summary).isFile());
    w->monitor()->model()->refresh();
    saveShot(w.get(), "studio-run-on-ssh.png");
    // A wrong place stays said when the form changes; Run again still goes where the run went.
    w->setRunOn(QStringLiteral("ssh://"));
    QVERIFY(!w->runOnError().isEmpty());
    QVERIFY(w->form()->setValues({ { QStringLiteral("iterations"), 2 } }).isEmpty());
    QVERIFY(!w->runOnError().isEmpty());
    QCOMPARE(w->run(&error), quint64(0));
    const quint64 rerun = w->runAgain(&error);
    QVERIFY2(rerun, qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(isFinalState(c->info(rerun)->state), 60000);
    QVERIFY2(
        c->info(rerun)->state == TaskState::Finished, qPrintable(c->info(rerun)->error.message));
    QVERIFY(c->info(rerun)->task.processInfo().location.startsWith(QStringLiteral("ssh://")));
    // Remembered: the default next time, and first among the recent places.
    QCOMPARE(w->settings().runOn, QStringLiteral("ssh://offload-test"));
    QCOMPARE(w->settings().recentPlaces.value(0), QStringLiteral("ssh://offload-test"));
    w.reset();
    auto again = openStudio();
    QCOMPARE(again->settings().runOn, QStringLiteral("ssh://offload-test"));
}

void tst_Studio::droppingAFolderAddsItsModules()
{
    const QString folder = m_dir->filePath(QStringLiteral("dropped"));
    QVERIFY(QDir().mkpath(folder));
    QVERIFY(
        QFile::copy(binPath(QStringLiteral("testmodule")), folder + QStringLiteral("/my-module")));
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    QCOMPARE(w->library()->find(QStringLiteral("my-module")), -1);
    QMimeData mime;
    mime.setUrls({ QUrl::fromLocalFile(folder) });
    QDragEnterEvent enter(QPoint(20, 20), Qt::CopyAction, &mime, Qt::LeftButton, {});
    QApplication::sendEvent(w.get(), &enter);
    QVERIFY(enter.isAccepted());
    QDropEvent drop(QPointF(20, 20), Qt::CopyAction, &mime, Qt::LeftButton, {});
    QApplication::sendEvent(w.get(), &drop);
    QVERIFY(drop.isAccepted());
    QTRY_VERIFY_WITH_TIMEOUT(w->library()->find(QStringLiteral("my-module")) >= 0, 20000);
    QCOMPARE(w->library()->entry(w->library()->find(QStringLiteral("my-module"))).title(),
        QStringLiteral("Test Module"));
    QVERIFY(w->settings().modulePaths.contains(folder));
    // Remembered: a new Studio discovers it again.
    w.reset();
    auto again = openStudio();
    QTRY_VERIFY_WITH_TIMEOUT(again->library()->find(QStringLiteral("my-module")) >= 0, 20000);
}

void tst_Studio::batchOfAHundredThousandInputsStaysResponsiveAndCancels()
{
    // testmodule ends at once: the runs are cheap, the batch's size is what is tried.
    const QString folder = m_dir->filePath(QStringLiteral("modules"));
    QVERIFY(QDir().mkpath(folder));
    QVERIFY(QFile::link(binPath(QStringLiteral("testmodule")), folder + QStringLiteral("/quick")));
    setModulePaths({ folder });
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    const int row = w->library()->find(QStringLiteral("quick"));
    QVERIFY(row >= 0);
    QVariantList inputs;
    for (int i = 1; i <= 100'000; ++i)
        inputs << qlonglong(i);
    RunController *c = w->controller();
    int mostAlive = 0;
    connect(c, &RunController::runStarted, this,
        [&] { mostAlive = std::max(mostAlive, c->aliveProcessCount()); });
    QSignalSpy ended(c, &RunController::runEnded);
    QElapsedTimer t;
    t.start();
    QString error;
    const quint64 batch = c->runBatch(
        w->library()->entry(row).module, {}, QStringLiteral("level"), inputs, 2, &error);
    const qint64 startMs = t.elapsed();
    QVERIFY2(batch, qPrintable(error));
    // Starting the batch is checking its inputs, not starting 100,000 runs on the GUI thread.
    QVERIFY2(startMs < 5000, qPrintable(QString::number(startMs)));
    QTRY_VERIFY_WITH_TIMEOUT(ended.count() >= 10, 30000);
    offload::TaskModel *model = w->monitor()->model();
    QTRY_VERIFY_WITH_TIMEOUT(model->indexOf(batch).isValid(), 5000);
    model->task(model->indexOf(batch)).cancel(); // as the row's ✕ does
    QTRY_COMPARE_WITH_TIMEOUT(c->activeCount(), 0, 30000);
    QCOMPARE(c->aliveProcessCount(), 0);
    QVERIFY2(mostAlive <= 2, qPrintable(QString::number(mostAlive)));
    model->refresh();
    QCOMPARE(model->task(model->indexOf(batch)).state(), TaskState::Cancelled);
    // Only the runs that started are rows; the rest never were.
    QVERIFY(model->rowCount(model->indexOf(batch)) < 10'000);
}

void tst_Studio::batchRefusesAParameterItCannotVary()
{
    const QString folder = m_dir->filePath(QStringLiteral("modules"));
    QVERIFY(QDir().mkpath(folder));
    QVERIFY(QFile::link(binPath(QStringLiteral("testmodule")), folder + QStringLiteral("/quick")));
    setModulePaths({ folder });
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    const int row = w->library()->find(QStringLiteral("quick"));
    QVERIFY(row >= 0);
    const offload::Module module = w->library()->entry(row).module;
    RunController *c = w->controller();
    QString error;
    // A return parameter is never passed: the batch would be the same run over and over.
    QCOMPARE(c->runBatch(module, {}, QStringLiteral("answer"), { 1, 2 }, 2, &error), 0u);
    QVERIFY2(error.contains(QLatin1String("return parameter")), qPrintable(error));
    QCOMPARE(c->runBatch(module, {}, QString(), { 1, 2 }, 2, &error), 0u);
    QVERIFY2(error.contains(QLatin1String("no parameter")), qPrintable(error));
    QCOMPARE(c->runBatch(module, {}, QStringLiteral("nosuch"), { 1, 2 }, 2, &error), 0u);
    QVERIFY2(error.contains(QLatin1String("'nosuch'")), qPrintable(error));
    // A bad input is named by its place, before anything starts.
    QCOMPARE(
        c->runBatch(module, {}, QStringLiteral("level"), { 1, 2, QStringLiteral("x") }, 2, &error),
        0u);
    QVERIFY2(error.startsWith(QLatin1String("input 3 (x)")), qPrintable(error));
    QCOMPARE(c->activeCount(), 0);
}

void tst_Studio::numericRangeHasAtMostAHundredThousandValues()
{
    QCOMPARE(numericRange(1, 100'000, 1, true).size(), 100'000);
    QCOMPARE(numericRange(1, 100'000, 1, true).last().toLongLong(), 100'000);
    QVERIFY(numericRange(0, 100'000, 1, true).isEmpty()); // 100,001 values
    QVERIFY(numericRange(1, 8, 0, true).isEmpty());
    QVERIFY(numericRange(1, 8, -1, true).isEmpty());
    QCOMPARE(numericRange(3, 1, -1, true), (QVariantList { 3, 1 + 1, 1 }));
    QVERIFY(numericRange(1, 1e300, 1, true).isEmpty());
}

void tst_Studio::valuesOfTheWrongShapeAreRefused()
{
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    const int row = w->library()->find(QStringLiteral("offload-example-blur"));
    QVERIFY(row >= 0);
    const offload::Module blur = w->library()->entry(row).module;
    const QString summary = m_dir->filePath(QStringLiteral("s.txt"));
    QString error;
    // An object for an integer: refused, not left out (its default would run instead).
    QVERIFY(RunController::commandLine(blur,
        { { QStringLiteral("iterations"), QVariantMap { { QStringLiteral("a"), 1 } } },
            { QStringLiteral("summary"), summary } },
        &error)
                .isEmpty());
    QVERIFY2(error.contains(QLatin1String("'iterations'")), qPrintable(error));
    // A list for a path: refused, not joined into "/a,/b".
    QVERIFY(RunController::commandLine(blur,
        { { QStringLiteral("summary"),
            QVariantList { QStringLiteral("/tmp/a"), QStringLiteral("/tmp/b") } } },
        &error)
                .isEmpty());
    QVERIFY2(error.contains(QLatin1String("'summary'")), qPrintable(error));
    QCOMPARE(w->controller()->run(blur,
                 { { QStringLiteral("iterations"), QVariantList { 1, 2 } },
                     { QStringLiteral("summary"), summary } },
                 &error),
        0u);
    QVERIFY2(error.contains(QLatin1String("'iterations'")), qPrintable(error));
    // What is fine stays fine: one value in a list, a plain value.
    QVERIFY(!RunController::commandLine(blur,
        { { QStringLiteral("iterations"), QVariantList { 3 } },
            { QStringLiteral("summary"), summary } })
                 .isEmpty());
    QCOMPARE(w->controller()->activeCount(), 0);
}

void tst_Studio::scriptsThatAreNotScriptsAreRefusedWithoutBlocking()
{
    const auto write = [this](const QString &name, const QByteArray &text) {
        QFile f(m_dir->filePath(name));
        return f.open(QIODevice::WriteOnly) && f.write(text) == text.size();
    };
    const auto refused = [](const QString &path) {
        QString error;
        const bool loaded = ScriptSession::load(path, &error).has_value();
        return loaded ? QStringLiteral("<loaded>") : error;
    };
    // Files that must not be read as a script, none of which may block.
    const QString fifo = m_dir->filePath(QStringLiteral("fifo.json"));
    QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
    QVERIFY2(refused(fifo).contains(QLatin1String("FIFO")), qPrintable(refused(fifo)));
    QVERIFY(refused(QStringLiteral("/dev/zero")).contains(QLatin1String("device")));
    QVERIFY(refused(m_dir->path()).contains(QLatin1String("directory")));
    QVERIFY(
        refused(m_dir->filePath(QStringLiteral("none.json"))).contains(QLatin1String("no such")));
    QVERIFY(write(QStringLiteral("big.json"), QByteArray(ScriptSession::maxScriptBytes + 1, ' ')));
    QVERIFY(refused(m_dir->filePath(QStringLiteral("big.json"))).contains(QLatin1String("bytes")));

    // Scripts with a mistake: the error names the place.
    const std::pair<const char *, const char *> cases[] = {
        { "not json", "is not JSON" },
        { "[1, 2]", "not an array" },
        { "{}", "runs: " },
        { R"({"runs": 5})", "runs: " },
        { R"({"runs": [], "extra": 1})", "unknown key 'extra'" },
        { R"({"runs": [1]})", "runs[0]: a run must be an object" },
        { R"({"runs": [{"module": 5}]})", "runs[0].module" },
        { R"({"runs": [{"module": "m", "values": [1]}]})", "runs[0].values" },
        { R"({"runs": [{"module": "m", "values": {"x": {"a": 1}}}]})", "runs[0].values.x" },
        { R"({"runs": [{"module": "m", "values": {"x": [[1]]}}]})", "runs[0].values.x" },
        { R"({"runs": [{"module": "m", "expect": "exploded"}]})", "runs[0].expect" },
        { R"({"runs": [{"module": "m", "cancelAfterMs": -5}]})", "runs[0].cancelAfterMs" },
        { R"({"runs": [{"module": "m", "cancelAfterMs": "soon"}]})", "runs[0].cancelAfterMs" },
        { R"({"runs": [{"module": "m", "cancelAfterMs": 1e12}]})", "runs[0].cancelAfterMs" },
        { R"({"runs": [{"module": "m", "cancelAfterMS": 5}]})", "unknown key 'cancelAfterMS'" },
        { R"({"runs": [{"module": "m", "batch": 7}]})", "runs[0].batch: must be an object" },
        { R"({"runs": [{"module": "m", "batch": {"inputs": [1]}}]})", "batch.parameter" },
        { R"({"runs": [{"module": "m", "batch": {"parameter": "p"}}]})", "exactly one of" },
        { R"({"runs": [{"module": "m", "batch": {"parameter": "p", "inputs": []}}]})",
            "batch.inputs: the list is empty" },
        { R"({"runs": [{"module": "m", "batch": {"parameter": "p", "range": "1-8"}}]})",
            "batch.range: must be" },
        { R"({"runs": [{"module": "m", "batch": {"parameter": "p", "range": [1]}}]})",
            "batch.range: must be" },
        { R"({"runs": [{"module": "m", "batch": {"parameter": "p", "range": [1, 8, 0]}}]})",
            "the step is 0" },
        { R"({"runs": [{"module": "m", "batch": {"parameter": "p", "range": [1, 8, -1]}}]})",
            "never leads" },
        { R"({"runs": [{"module": "m", "batch": {"parameter": "p", "range": [0, 100000]}}]})",
            "100001 values" },
        { R"({"runs": [{"module": "m", "batch": {"parameter": "p", "range": [1, 1e300, 1]}}]})",
            "more than the 100000" },
        { R"({"runs": [{"module": "m", "batch": {"parameter": "p", "inputs": [1], "parallel": 0}}]})",
            "batch.parallel" },
        { R"({"runs": [], "screenshot": ["a.png"]})", "screenshot: " },
    };
    for (const auto &[text, expected] : cases) {
        QVERIFY(write(QStringLiteral("case.json"), text));
        const QString error = refused(m_dir->filePath(QStringLiteral("case.json")));
        QVERIFY2(error.contains(QLatin1String(expected)), qPrintable(text + (" -> " + error)));
    }
    // And a good one loads.
    QVERIFY(write(QStringLiteral("good.json"),
        R"({"runs": [{"module": "m", "values": {"a": [1, "b"], "c": null}, "expect": "failed",
             "cancelAfterMs": 10, "batch": {"parameter": "p", "range": [1, 3], "parallel": 2}}],
            "screenshot": "s.png"})"));
    QCOMPARE(refused(m_dir->filePath(QStringLiteral("good.json"))), QStringLiteral("<loaded>"));
}

void tst_Studio::scriptReportsAScreenshotItCannotSave()
{
    auto w = openStudio();
    const auto perform = [&](const QString &shot) {
        ScriptSession session(w.get(),
            QJsonObject {
                { QStringLiteral("runs"), QJsonArray() }, { QStringLiteral("screenshot"), shot } },
            m_dir->path());
        QSignalSpy finished(&session, &ScriptSession::finished);
        session.start();
        if (!finished.wait(30000))
            return QJsonObject();
        return session.summary();
    };
    // A missing folder: said so, and the session is not ok.
    QJsonObject summary = perform(QStringLiteral("missing/shot.png"));
    QCOMPARE(summary.value(QLatin1String("ok")).toBool(true), false);
    QVERIFY2(summary.value(QLatin1String("screenshot"))
                 .toObject()
                 .value(QLatin1String("error"))
                 .toString()
                 .contains(QLatin1String("does not exist")),
        QJsonDocument(summary).toJson().constData());
    // A FIFO where the image goes: refused, never opened (opening it would wait for a reader).
    const QString fifo = m_dir->filePath(QStringLiteral("fifo.png"));
    QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
    summary = perform(QStringLiteral("fifo.png"));
    QCOMPARE(summary.value(QLatin1String("ok")).toBool(true), false);
    QVERIFY(summary.value(QLatin1String("screenshot"))
                .toObject()
                .value(QLatin1String("error"))
                .toString()
                .contains(QLatin1String("not a regular file")));
    // A good path: saved.
    summary = perform(QStringLiteral("shot.png"));
    QCOMPARE(summary.value(QLatin1String("ok")).toBool(), true);
    QVERIFY(!QImage(m_dir->filePath(QStringLiteral("shot.png"))).isNull());
}

void tst_Studio::modulePathsThatAreNotFilesAreBrokenAtOnce()
{
    const QString fifo = m_dir->filePath(QStringLiteral("x.py"));
    QCOMPARE(::mkfifo(QFile::encodeName(fifo).constData(), 0600), 0);
    const QString gone = m_dir->filePath(QStringLiteral("gone"));
    QVERIFY(QFile::link(m_dir->filePath(QStringLiteral("nowhere")), gone));
    setModulePaths({ fifo, gone });
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    const ModuleLibrary *lib = w->library();
    QVERIFY(lib->rowOfPath(fifo) >= 0 && lib->rowOfPath(gone) >= 0);
    // Not "x.py --xml printed no description within the timeout" after python3 waited 5 s
    // for a writer: what it is.
    QCOMPARE(lib->entry(lib->rowOfPath(fifo)).status, ModuleEntry::Broken);
    QVERIFY2(lib->entry(lib->rowOfPath(fifo)).error.contains(QLatin1String("FIFO")),
        qPrintable(lib->entry(lib->rowOfPath(fifo)).error));
    QCOMPARE(lib->entry(lib->rowOfPath(gone)).status, ModuleEntry::Broken);
    QVERIFY2(lib->entry(lib->rowOfPath(gone)).error.contains(QLatin1String("symbolic link")),
        qPrintable(lib->entry(lib->rowOfPath(gone)).error));
}

void tst_Studio::historyPanelShowsTheNewestRunsOnly()
{
    const int runs = HistoryPanel::shownRuns + 100;
    RunRecord rec;
    rec.modulePath = QStringLiteral("/m");
    rec.moduleTitle = QStringLiteral("M");
    rec.state = QStringLiteral("finished");
    {
        // Available: every stored run is prepended as it is recorded.
        auto w = openStudio();
        QTRY_VERIFY_WITH_TIMEOUT(w->history()->isAvailable(), 20000);
        QSignalSpy recorded(w->history(), &RunHistory::recorded);
        for (int i = 0; i < runs; ++i)
            w->history()->record(rec);
        QTRY_COMPARE_WITH_TIMEOUT(recorded.count(), runs, 60000);
        QCOMPARE(w->historyPanel()->model()->rowCount(), HistoryPanel::shownRuns);
    }
    // Unavailable (the path is a folder): every run is kept in memory, the newest shown.
    {
        QSettings s(m_dir->filePath(QStringLiteral("studio.ini")), QSettings::IniFormat);
        s.setValue(QStringLiteral("history/path"), m_dir->path());
    }
    auto w = openStudio();
    QTRY_VERIFY_WITH_TIMEOUT(!w->history()->problem().isEmpty(), 20000);
    QVERIFY(!w->history()->isAvailable());
    for (int i = 0; i < runs; ++i) {
        rec.moduleTitle = QStringLiteral("M%1").arg(i);
        w->history()->record(rec);
    }
    QTRY_COMPARE_WITH_TIMEOUT(w->history()->unsaved().size(), runs, 60000);
    QTRY_COMPARE_WITH_TIMEOUT(w->historyPanel()->model()->records().value(0).moduleTitle,
        QStringLiteral("M%1").arg(runs - 1), 5000);
    QCOMPARE(w->historyPanel()->model()->rowCount(), HistoryPanel::shownRuns);
}

void tst_Studio::detailsShowBinaryOutputAndKeepTheTailBounded()
{
    const QString folder = m_dir->filePath(QStringLiteral("modules"));
    QVERIFY(QDir().mkpath(folder));
    // Invalid UTF-8 and NUL bytes on stderr, then stdout without end.
    QVERIFY(writeModule(folder, QStringLiteral("spew"),
        "printf 'bad \\377\\376\\303\\050 nul \\000\\000 end\\n' >&2\n"
        "exec yes 'endless output line'\n"));
    setModulePaths({ folder });
    auto w = openStudio();
    QVERIFY(waitForDiscovery(*w));
    const int row = w->library()->find(QStringLiteral("spew"));
    QVERIFY(row >= 0);
    RunController *c = w->controller();
    QString error;
    const quint64 id = c->run(w->library()->entry(row).module, {}, &error);
    QVERIFY2(id, qPrintable(error));
    QTRY_VERIFY_WITH_TIMEOUT(c->info(id)->stdoutTail.size() == RunController::outputTailBytes
            && c->info(id)->stderrTail.contains("end"),
        20000);
    w->monitor()->selectTask(id);
    QCOMPARE(w->details()->taskId(), id);
    QTRY_VERIFY_WITH_TIMEOUT(w->details()->stderrText().contains(QLatin1String("end")), 5000);
    QVERIFY(w->details()->stderrText().startsWith(QLatin1String("bad ")));
    QVERIFY(w->details()->stderrText().contains(QChar::ReplacementCharacter));
    // The stream goes on; what is kept and shown stays the newest 64 KiB.
    const qint64 pid = c->info(id)->task.processInfo().pid;
    QTest::qWait(500);
    QCOMPARE(c->info(id)->stdoutTail.size(), RunController::outputTailBytes);
    QVERIFY(w->details()->stdoutText().size() <= RunController::outputTailBytes);
    QVERIFY(w->details()->stdoutText().endsWith(QLatin1String("endless output line\n")));
    c->info(id)->task.cancel();
    QTRY_COMPARE_WITH_TIMEOUT(c->info(id)->state, TaskState::Cancelled, 20000);
    QTRY_VERIFY_WITH_TIMEOUT(pid <= 0 || processGone(pid), 10000);
}

QTEST_MAIN(tst_Studio)
#include "tst_studio.moc"
