// quickstart: run CPU-heavy work on Offload's pool with progress, then cancel a second task.
// Shows: offload::run, TaskControl progress and cancellation, callbacks on the caller's thread.
#include <offload/core/threadpool.h>

#include <QCoreApplication>
#include <QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);

    // Runs on a pool thread; everything below is delivered on this (the main) thread.
    auto sum = offload::run(&app,
        [](offload::TaskControl &task) {
            const qint64 n = 50'000'000;
            task.setProgressRange(0, n);
            qint64 total = 0;
            for (qint64 i = 1; i <= n; ++i) {
                total += i % 7;
                if (i % 1'000'000 == 0) {
                    task.throwIfCancellationRequested();
                    task.setProgress(i, QStringLiteral("%1 million done").arg(i / 1'000'000));
                }
            }
            return total;
        },
        { .name = QStringLiteral("sum") });

    sum.onProgress([](const offload::Progress &p) {
        std::printf("\rprogress %3.0f%% %s", p.fraction() * 100, qPrintable(p.text));
        std::fflush(stdout);
    });
    sum.onResult([](qint64 total) { std::printf("\nsum = %lld\n", total); });
    sum.onError(
        [](const offload::Error &e) { std::printf("\nfailed: %s\n", qPrintable(e.summary())); });

    // A second task that the user gives up on: it ends Cancelled, which is not an error.
    auto slow = offload::run(&app, [](offload::TaskControl &task) {
        while (!task.isCancellationRequested())
            QThread::msleep(1);
    });
    slow.onCancelled([] { std::printf("slow task cancelled\n"); });
    QTimer::singleShot(100, &app, [slow] { slow.cancel(); });

    // Quit once both have ended, whatever way they ended.
    int ended = 0;
    const auto quitWhenBothEnded = [&](const auto &) {
        if (++ended == 2)
            app.quit();
    };
    sum.onFinished(quitWhenBothEnded);
    slow.onFinished(quitWhenBothEnded);
    return app.exec();
}
