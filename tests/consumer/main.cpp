// Runs one task through the installed Offload, awaited by a coroutine, and checks that it is
// delivered and monitored; parses a module description through the installed Modules, builds
// its form (Forms) and a task monitor (Widgets).
#include <offload/core/threadpool.h>
#include <offload/coro/task.h>
#include <offload/forms/moduleform.h>
#include <offload/modules/modulerunner.h>
#include <offload/monitor/taskmodel.h>
#include <offload/widgets/taskmonitorwidget.h>

#include <QApplication>
#include <QSpinBox>
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
    QApplication app(argc, argv);
    offload::TaskModel model;
    offload::TaskMonitorWidget monitor;
    int exitCode = 1;
    const auto parsed = offload::sem::parseDescription(
        "<?xml version=\"1.0\"?><executable><title>t</title><parameters><integer><name>n</name>"
        "<longflag>n</longflag><default>3</default></integer></parameters></executable>");
    if (!parsed.ok())
        return 1;
    const offload::ModuleForm form(*parsed.description);
    auto *n = qobject_cast<QSpinBox *>(form.editor(QStringLiteral("n")));
    if (!n || n->value() != 3 || form.values().value(QStringLiteral("n")).toInt() != 3)
        return 1;
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
