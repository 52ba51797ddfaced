// Runs one task through the installed Offload and checks that it is delivered and monitored.
#include <offload/core/threadpool.h>
#include <offload/monitor/taskmodel.h>

#include <QCoreApplication>
#include <QTimer>

#include <cstdio>

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    offload::TaskModel model;
    int exitCode = 1;
    offload::run(&app, [] { return 6 * 7; }).onResult([&](int v) {
        model.refresh();
        exitCode = (v == 42 && model.rowCount() >= 1) ? 0 : 1;
        app.quit();
    });
    QTimer::singleShot(10000, &app, [&] { app.exit(2); });
    app.exec();
    std::printf("consumer: %s\n", exitCode == 0 ? "ok" : "failed");
    return exitCode;
}
