// offload-demo: a window of CPU-heavy tasks (threads and worker processes) that never freezes.
// --headless runs a timed load on the offscreen platform and prints a JSON summary of the work done
// and the GUI's latency.
#include "demowindow.h"

#include <offload/core/threadpool.h>

#include <QApplication>
#include <QCommandLineParser>
#include <QJsonDocument>
#include <QJsonObject>
#include <QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    bool headless = false;
    for (int i = 1; i < argc; ++i)
        headless |= qstrcmp(argv[i], "--headless") == 0;
    if (headless && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
        qputenv("QT_QPA_PLATFORM", "offscreen");

    QApplication app(argc, argv);
    QApplication::setApplicationName(QStringLiteral("offload-demo"));
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Offload demo: CPU-heavy tasks beside a responsive GUI"));
    parser.addHelpOption();
    parser.addOption({ QStringLiteral("headless"),
        QStringLiteral("Run a timed load off-screen and print a JSON summary.") });
    parser.addOption(
        { QStringLiteral("seconds"), QStringLiteral("Duration of the headless run (default 5)."),
            QStringLiteral("N"), QStringLiteral("5") });
    parser.addOption({ QStringLiteral("screenshot"),
        QStringLiteral("Save a PNG of the window at the end."), QStringLiteral("FILE") });
    parser.addOption(
        { QStringLiteral("work-scale"), QStringLiteral("Scale every task's size (default 1)."),
            QStringLiteral("F"), QStringLiteral("1") });
    parser.process(app);

    demo::DemoWindow window;
    window.setWorkScale(
        std::clamp(parser.value(QStringLiteral("work-scale")).toDouble(), 0.001, 100.0));
    window.show();

    const QString screenshot = parser.value(QStringLiteral("screenshot"));
    if (!headless) {
        if (!screenshot.isEmpty())
            QTimer::singleShot(3000, &window, [&] { window.grab().save(screenshot); });
        return app.exec();
    }

    // The load: keep two tasks per core in flight; cancel every 5th part-way through, and make
    // every 7th fail, as a user and real data would.
    bool ok = false;
    const int seconds = std::max(1, parser.value(QStringLiteral("seconds")).toInt(&ok));
    const int target = 2 * offload::ThreadPool::globalInstance()->maxThreads();
    int launched = 0;
    bool stopping = false;
    const auto topUp = [&] {
        while (!stopping && window.inFlight() < target) {
            ++launched;
            // Every third task is a call to the demo's worker processes, every fourth a run of
            // the in-tree SEM module (once its description has been read), every tenth a
            // coroutine pipeline of all three.
            const bool failing = launched % 7 == 0;
            offload::TaskHandleBase task = launched % 10 == 0
                ? offload::TaskHandleBase(window.startPipeline(failing))
                : launched % 3 == 0 ? offload::TaskHandleBase(window.startWorkerCalls(1, failing))
                : launched % 4 == 0 && window.moduleReady()
                ? offload::TaskHandleBase(window.startModuleRuns(1, failing))
                : offload::TaskHandleBase(window.startPrimeTasks(1, failing));
            if (launched % 5 == 0)
                QTimer::singleShot(1500, &window, [task] { task.cancel(); });
        }
    };
    QObject::connect(&window, &demo::DemoWindow::taskEnded, &window, topUp);
    topUp();
    window.probe().start();

    QTimer::singleShot(seconds * 1000, &window, [&] {
        stopping = true;
        const auto lag = window.probe().stats();
        window.probe().stop();
        if (!screenshot.isEmpty())
            window.grab().save(screenshot);
        window.cancelAll();
        const auto &c = window.counters();
        const QJsonObject summary { { QStringLiteral("seconds"), seconds },
            { QStringLiteral("threads"), offload::ThreadPool::globalInstance()->maxThreads() },
            { QStringLiteral("tasks"),
                QJsonObject { { QStringLiteral("started"), c.started },
                    { QStringLiteral("finished"), c.finished },
                    { QStringLiteral("failed"), c.failed },
                    { QStringLiteral("cancelled"), c.cancelled } } },
            { QStringLiteral("guiPing"),
                QJsonObject { { QStringLiteral("samples"), lag.count },
                    { QStringLiteral("p50us"), qRound(lag.p50us) },
                    { QStringLiteral("p99us"), qRound(lag.p99us) },
                    { QStringLiteral("maxus"), qRound(lag.maxus) } } } };
        std::printf("%s\n", QJsonDocument(summary).toJson(QJsonDocument::Compact).constData());
        std::fflush(stdout);
        app.quit();
    });
    return app.exec();
}
