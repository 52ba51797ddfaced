// coroutine-window: a slot written as one coroutine — thread task → worker call → module run →
// widgets — with progress and Cancel, beside the same pipeline written with callbacks.
// Shows: offload::Task, co_await on every kind of task, weighted progress, cancellation.
// Run: coroutine-window [--headless coroutine|callbacks [--cancel-at-step N] [--screenshot F]]
#include "pipelinewindow.h"

#include <QApplication>
#include <QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    QApplication app(argc, argv);
    PipelineWindow window;
    const QStringList args = app.arguments();
    const qsizetype headless = args.indexOf(QStringLiteral("--headless"));
    if (headless < 0) {
        window.show();
        return app.exec();
    }
    window.show();
    const QString which = args.value(headless + 1, QStringLiteral("coroutine"));
    const qsizetype cancelAt = args.indexOf(QStringLiteral("--cancel-at-step"));
    if (cancelAt >= 0) { // Cancel pressed as soon as that step has started
        const int step = args.value(cancelAt + 1).toInt();
        QObject::connect(
            &window, &PipelineWindow::stepStarted, &window, [&window, step](int started) {
                if (started == step)
                    QTimer::singleShot(20, &window, [&window] { window.cancel(); });
            });
    }
    const qsizetype shotAt = args.indexOf(QStringLiteral("--screenshot"));
    QObject::connect(
        &window, &PipelineWindow::ended, &app, [&](const QString &state, const QString &result) {
            std::printf("state: %s\n", qPrintable(state));
            if (!result.isEmpty())
                std::printf("result: %s\n", qPrintable(result));
            if (shotAt >= 0)
                window.grab().save(args.value(shotAt + 1));
            app.quit();
        });
    QTimer::singleShot(0, &window, [&] {
        if (which == QLatin1String("callbacks"))
            window.runWithCallbacks();
        else
            window.startCoroutine();
    });
    return app.exec();
}
