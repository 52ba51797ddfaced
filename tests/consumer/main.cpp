// Runs one task through the installed Offload, awaited by a coroutine, and checks that it is
// delivered and monitored; parses a module description through the installed Modules.
#include <offload/core/threadpool.h>
#include <offload/coro/task.h>
#include <offload/modules/modulerunner.h>
#include <offload/monitor/taskmodel.h>

#include <QCoreApplication>
#include <QTimer>

#include <cstdio>

namespace {
offload::Task<int> answer(QObject *context)
{
    co_return co_await offload::run(context, [] { return 6 * 7; });
}
} // namespace

int main(int argc, char **argv)
{
    QCoreApplication app(argc, argv);
    offload::TaskModel model;
    int exitCode = 1;
    const auto parsed = offload::sem::parseDescription("<?xml version=\"1.0\"?><executable><title>t</title></executable>");
    answer(&app).onResult([&](int v) {
        model.refresh();
        exitCode = (v == 42 && model.rowCount() >= 2 && parsed.ok()) ? 0 : 1;
        app.quit();
    });
    QTimer::singleShot(10000, &app, [&] { app.exit(2); });
    app.exec();
    std::printf("consumer: %s\n", exitCode == 0 ? "ok" : "failed");
    return exitCode;
}
