// worker-pool: the same call on a pool of C++ workers and a pool of Python workers, with
// progress, and a third call cancelled part-way. Shows: WorkerPool, submit, onProgress,
// onResult, cancel, and that a cancelled worker call ends Cancelled (not Failed).
#include <offload/process/workerpool.h>

#include <QCoreApplication>
#include <QJsonObject>
#include <QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    const QString dir = QCoreApplication::applicationDirPath();

    offload::WorkerPoolSpec cpp;
    cpp.program = dir + QStringLiteral("/primeworker");
    cpp.maxWorkers = 2;
    cpp.prestart = 1; // start-up cost paid before the first call

    offload::WorkerPoolSpec python;
    python.program = QStringLiteral("/usr/bin/python3");
    python.arguments = { EXAMPLE_SOURCE_DIR "/primeworker.py" };
    python.maxWorkers = 1;

    offload::WorkerPool cppPool(cpp), pythonPool(python);
    const QJsonObject args { { QStringLiteral("limit"), 200000 } };
    int ended = 0;
    const auto report = [&](const char *who) {
        return [&, who](const offload::TaskHandle<offload::WorkerResult> &call) {
            if (call.state() == offload::TaskState::Finished)
                std::printf("%s: %d primes below 200000\n", who, call.result().value.toInt());
            else if (call.state() == offload::TaskState::Cancelled)
                std::printf("%s: cancelled\n", who);
            else
                std::printf("%s: failed: %s\n", who, qPrintable(call.error().summary()));
            if (++ended == 3)
                app.quit();
        };
    };

    auto a = cppPool.submit(&app, QStringLiteral("countPrimes"), args);
    a.onProgress([](const offload::Progress &p) {
        std::printf("C++ %3.0f%% %s\n", p.fraction() * 100, qPrintable(p.text));
    });
    a.onFinished(report("C++ worker"));
    pythonPool.submit(&app, QStringLiteral("countPrimes"), args)
        .onFinished(report("Python worker"));

    auto doomed = cppPool.submit(
        &app, QStringLiteral("countPrimes"), QJsonObject { { QStringLiteral("limit"), 1 << 30 } });
    doomed.onFinished(report("C++ worker (long)"));
    QTimer::singleShot(300, &app, [doomed] { doomed.cancel(); });
    return app.exec();
}
