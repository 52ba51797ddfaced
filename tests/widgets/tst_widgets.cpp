// Specification of the ready-made monitor: TaskMonitorWidget's Cancel, Delete and Clear
// finished, parent tasks as a tree, ProgressDelegate's bar, and a model of 10,000 rows in the
// view.
#include <offload/core/threadpool.h>
#include <offload/monitor/taskmodel.h>
#include <offload/widgets/progressdelegate.h>
#include <offload/widgets/taskmonitorwidget.h>

#include "../common/manualtask.h"
#include "../common/testsupport.h"

#include <QAbstractItemModelTester>
#include <QApplication>
#include <QImage>
#include <QPainter>
#include <QPushButton>
#include <QScrollBar>
#include <QStandardItemModel>
#include <QTest>
#include <QThread>
#include <QTreeView>

#include <cmath>
#include <vector>

using namespace offload;
using namespace std::chrono_literals;

namespace {

// A task that runs until it is cancelled (or, so that no test can hang, for 20 s).
TaskHandle<int> runUntilCancelled(QObject *context, const QString &name)
{
    return run(context,
        [](TaskControl &c) {
            for (int i = 0; i < 20000 && !c.isCancellationRequested(); ++i)
                QThread::msleep(1);
            c.throwIfCancellationRequested();
            return 0;
        },
        { .name = name });
}

// One task that has finished and one that runs until cancelled, in that order.
std::pair<TaskHandle<int>, TaskHandle<int>> finishedAndRunning(QObject *context)
{
    auto done = run(context, [] { return 1; }, { .name = QStringLiteral("done") });
    done.waitForFinished(10s); // checked by the caller through isFinal()
    return { done, runUntilCancelled(context, QStringLiteral("running")) };
}

QPushButton *button(const TaskMonitorWidget &w, const QString &text)
{
    for (QPushButton *b : w.findChildren<QPushButton *>())
        if (b->text() == text)
            return b;
    return nullptr;
}

void selectRowOf(TaskMonitorWidget &w, quint64 taskId, QItemSelectionModel::SelectionFlags how)
{
    const int row = w.model()->rowOf(taskId);
    QVERIFY(row >= 0);
    w.view()->selectionModel()->select(w.model()->index(row, 0), how | QItemSelectionModel::Rows);
}

// Selects a task's row at any depth.
void selectTask(TaskMonitorWidget &w, quint64 taskId, QItemSelectionModel::SelectionFlags how)
{
    const QModelIndex index = w.model()->indexOf(taskId);
    QVERIFY(index.isValid());
    w.view()->selectionModel()->select(index, how | QItemSelectionModel::Rows);
}

// The delegate's bar for a fraction, painted into an image of one cell.
QImage paintedBar(double fraction)
{
    QStandardItemModel model(1, 1);
    model.setData(model.index(0, 0), fraction, TaskModel::FractionRole);
    model.setData(model.index(0, 0), QStringLiteral("Running"));
    ProgressDelegate delegate;
    QImage image(200, 24, QImage::Format_ARGB32);
    image.fill(Qt::white);
    QPainter painter(&image);
    QStyleOptionViewItem option;
    option.rect = image.rect();
    option.state = QStyle::State_Enabled;
    option.palette = QApplication::palette();
    delegate.paint(&painter, option, model.index(0, 0));
    return image;
}

// Columns (of the middle row) that differ between two images.
int differingColumns(const QImage &a, const QImage &b)
{
    int n = 0;
    for (int x = 0; x < a.width(); ++x)
        n += a.pixel(x, a.height() / 2) != b.pixel(x, b.height() / 2);
    return n;
}

} // namespace

class tst_Widgets : public QObject
{
    Q_OBJECT
private Q_SLOTS:
    void cancelCancelsTheSelectedTasksOnly();
    void cancelIsEnabledOnlyForARunningSelection();
    void deleteKeyCancelsTheSelection();
    void clearFinishedKeepsRunningTasks();
    void progressBarGrowsWithTheFraction();
    void progressBarClampsOutOfRangeFractions();
    void childRowsShowUnderTheirParentWithBars();
    void cancelOnAParentRowCancelsTheParent();
    void cancelOnAChildRowCancelsThatChild();
    void tenThousandRowsScrollAndPaint();
};

void tst_Widgets::cancelCancelsTheSelectedTasksOnly()
{
    QObject context;
    TaskMonitorWidget w;
    std::vector<TaskHandle<int>> tasks;
    for (int i = 0; i < 3; ++i)
        tasks.push_back(runUntilCancelled(&context, QStringLiteral("t%1").arg(i)));
    w.model()->refresh();
    selectRowOf(w, tasks[0].id(), QItemSelectionModel::ClearAndSelect);
    selectRowOf(w, tasks[2].id(), QItemSelectionModel::Select);
    QPushButton *cancel = button(w, QStringLiteral("Cancel"));
    QVERIFY(cancel);
    QVERIFY(cancel->isEnabled());
    cancel->click();
    QVERIFY(tasks[0].waitForFinished(10s));
    QVERIFY(tasks[2].waitForFinished(10s));
    QCOMPARE(tasks[0].state(), TaskState::Cancelled);
    QCOMPARE(tasks[2].state(), TaskState::Cancelled);
    QVERIFY(!tasks[1].isFinal()); // not selected: still running
    tasks[1].cancel();
    QVERIFY(tasks[1].waitForFinished(10s));
}

void tst_Widgets::cancelIsEnabledOnlyForARunningSelection()
{
    QObject context;
    TaskMonitorWidget w;
    const auto [done, running] = finishedAndRunning(&context);
    QVERIFY(done.isFinal());
    w.model()->refresh();
    QPushButton *cancel = button(w, QStringLiteral("Cancel"));
    QVERIFY(!cancel->isEnabled()); // nothing selected
    selectRowOf(w, done.id(), QItemSelectionModel::ClearAndSelect);
    QVERIFY(!cancel->isEnabled()); // only a finished task
    selectRowOf(w, running.id(), QItemSelectionModel::Select);
    QVERIFY(cancel->isEnabled());
    running.cancel();
    QVERIFY(running.waitForFinished(10s));
    w.model()->refresh(); // the row turns final: the button follows
    QTRY_VERIFY_WITH_TIMEOUT(!cancel->isEnabled(), 5000);
}

void tst_Widgets::deleteKeyCancelsTheSelection()
{
    QObject context;
    TaskMonitorWidget w;
    w.show();
    w.activateWindow();
    QVERIFY(QTest::qWaitForWindowActive(&w));
    auto task = runUntilCancelled(&context, QStringLiteral("by key"));
    w.model()->refresh();
    selectRowOf(w, task.id(), QItemSelectionModel::ClearAndSelect);
    w.view()->setFocus();
    QTest::keyClick(w.view(), Qt::Key_Delete);
    QVERIFY(task.waitForFinished(10s));
    QCOMPARE(task.state(), TaskState::Cancelled);
}

void tst_Widgets::clearFinishedKeepsRunningTasks()
{
    QObject context;
    TaskMonitorWidget w;
    const auto [done, running] = finishedAndRunning(&context);
    QVERIFY(done.isFinal());
    w.model()->refresh();
    QVERIFY(w.model()->rowOf(done.id()) >= 0);
    button(w, QStringLiteral("Clear finished"))->click();
    QCOMPARE(w.model()->rowOf(done.id()), -1);
    QVERIFY(w.model()->rowOf(running.id()) >= 0);
    running.cancel();
    QVERIFY(running.waitForFinished(10s));
}

void tst_Widgets::progressBarGrowsWithTheFraction()
{
    const QImage empty = paintedBar(0), quarter = paintedBar(0.25), full = paintedBar(1);
    // The filled part grows with the fraction: a quarter differs from empty over about a
    // quarter of the width, and from full over about three quarters.
    const int quarterFilled = differingColumns(empty, quarter);
    const int quarterUnfilled = differingColumns(quarter, full);
    QVERIFY2(quarterFilled > 20 && quarterFilled < quarterUnfilled,
        qPrintable(QStringLiteral("%1 %2").arg(quarterFilled).arg(quarterUnfilled)));
    QVERIFY(differingColumns(empty, full) > differingColumns(empty, quarter));
}

void tst_Widgets::progressBarClampsOutOfRangeFractions()
{
    // Beyond 1 paints as full; NaN as no fraction (the state's name), like any negative one.
    QCOMPARE(paintedBar(2.5), paintedBar(1));
    QCOMPARE(paintedBar(std::nan("")), paintedBar(-1));
    QVERIFY(paintedBar(-1) != paintedBar(0));
}

void tst_Widgets::childRowsShowUnderTheirParentWithBars()
{
    QObject context;
    TaskModel model;
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    TaskMonitorWidget w(&model, nullptr);
    auto parent = manualTask(&context, QStringLiteral("batch"));
    auto done = manualTask(&context, QStringLiteral("run 1"));
    auto waiting = manualTask(&context, QStringLiteral("run 2"));
    done.setParent(parent);
    waiting.setParent(parent);
    QVERIFY(parent->start());
    QVERIFY(done->finish()); // a full bar
    QVERIFY(waiting->start());
    waiting->setProgressRange(0, 100); // an empty bar
    model.refresh();
    QVERIFY(w.view()->rootIsDecorated());
    w.resize(900, 400);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    const QModelIndex p = model.indexOf(parent.id());
    QCOMPARE(model.rowCount(p), 2);
    w.view()->expand(p);
    w.view()->scrollTo(model.indexOf(waiting.id()));
    const QRect doneCell
        = w.view()->visualRect(model.indexOf(done.id(), TaskModel::Column::Progress));
    const QRect waitingCell
        = w.view()->visualRect(model.indexOf(waiting.id(), TaskModel::Column::Progress));
    const QRect viewport = w.view()->viewport()->rect();
    QVERIFY(viewport.contains(doneCell) && viewport.contains(waitingCell));
    QCOMPARE(doneCell.width(), waitingCell.width());
    // A full bar and an empty one differ across most of the cell; plain text ("100%" beside
    // "0%") would differ over a few columns only.
    const QImage shot = w.view()->viewport()->grab().toImage();
    int differing = 0;
    for (int x = 0; x < doneCell.width(); ++x)
        differing += shot.pixel(doneCell.left() + x, doneCell.center().y())
            != shot.pixel(waitingCell.left() + x, waitingCell.center().y());
    QVERIFY2(differing > doneCell.width() / 2,
        qPrintable(QStringLiteral("%1 of %2").arg(differing).arg(doneCell.width())));
    QVERIFY(waiting->finish());
    QVERIFY(parent->finish());
}

void tst_Widgets::cancelOnAParentRowCancelsTheParent()
{
    QObject context;
    TaskMonitorWidget w;
    auto parent = manualTask(&context, QStringLiteral("batch"));
    std::vector<ManualTask> runs;
    for (int i = 0; i < 2; ++i) {
        runs.push_back(manualTask(&context, QStringLiteral("run %1").arg(i)));
        runs.back().setParent(parent);
        QVERIFY(runs.back()->start());
    }
    QVERIFY(parent->start());
    // The parent's owner cancels its runs, as a batch runner does; the monitor does not.
    parent->setCancelHandler([runs] {
        for (const auto &r : runs)
            r.cancel();
    });
    auto bystander = manualTask(&context, QStringLiteral("bystander"));
    QVERIFY(bystander->start());
    w.model()->refresh();
    selectTask(w, parent.id(), QItemSelectionModel::ClearAndSelect);
    QPushButton *cancel = button(w, QStringLiteral("Cancel"));
    QVERIFY(cancel->isEnabled());
    cancel->click();
    QVERIFY(parent.isCancellationRequested());
    for (const auto &r : runs)
        QVERIFY(r.isCancellationRequested());
    QVERIFY(!bystander.isCancellationRequested());
    for (auto *t : { &parent, &runs[0], &runs[1], &bystander })
        QVERIFY((*t)->finishCancelled());
}

void tst_Widgets::cancelOnAChildRowCancelsThatChild()
{
    QObject context;
    TaskMonitorWidget w;
    auto parent = manualTask(&context, QStringLiteral("batch"));
    auto first = manualTask(&context, QStringLiteral("run 1"));
    auto second = manualTask(&context, QStringLiteral("run 2"));
    for (auto *t : { &first, &second }) {
        t->setParent(parent);
        QVERIFY((*t)->start());
    }
    QVERIFY(parent->start());
    w.model()->refresh();
    // Top-level rows are left alone, in particular the one with the child's row number.
    const auto topLevelRequests = [&w] {
        std::vector<bool> requested;
        for (int row = 0; row < w.model()->rowCount(); ++row)
            requested.push_back(w.model()->task(row).isCancellationRequested());
        return requested;
    };
    const std::vector<bool> before = topLevelRequests();
    selectTask(w, second.id(), QItemSelectionModel::ClearAndSelect);
    QPushButton *cancel = button(w, QStringLiteral("Cancel"));
    QVERIFY(cancel->isEnabled());
    cancel->click();
    QVERIFY(second.isCancellationRequested());
    QVERIFY(!first.isCancellationRequested());
    QVERIFY(!parent.isCancellationRequested());
    QVERIFY(topLevelRequests() == before);
    for (auto *t : { &parent, &first, &second })
        QVERIFY((*t)->finishCancelled());
}

void tst_Widgets::tenThousandRowsScrollAndPaint()
{
    QObject context;
    std::vector<TaskHandle<int>> tasks;
    for (int i = 0; i < 10000; ++i)
        tasks.push_back(
            run(&context, [i] { return i; }, { .name = QStringLiteral("task %1").arg(i) }));
    for (const auto &t : tasks)
        QVERIFY(t.waitForFinished(30s));
    TaskModel model;
    model.setMaxFinished(20000);
    TaskMonitorWidget w(&model, nullptr);
    model.refresh();
    QVERIFY(model.rowCount() >= 10000);
    w.resize(900, 400);
    w.show();
    QVERIFY(QTest::qWaitForWindowExposed(&w));
    QScrollBar *bar = w.view()->verticalScrollBar();
    bar->setValue(bar->maximum());
    const QImage bottom = w.grab().toImage();
    QVERIFY(!bottom.isNull());
    // The last task is on screen at the bottom, and its row says Finished.
    const int last = model.rowOf(tasks.back().id());
    QVERIFY(last >= 0);
    QVERIFY(w.view()->visualRect(model.index(last, 0)).intersects(w.view()->viewport()->rect()));
    QCOMPARE(
        model.index(last, TaskModel::Column::State).data().toString(), QStringLiteral("Finished"));
}

QTEST_MAIN(tst_Widgets)
#include "tst_widgets.moc"
