// Runs one task through the installed Offload, awaited by a coroutine, and checks that it is
// delivered and monitored; parses a module description through the installed Modules, builds
// its form (Forms) and a task monitor (Widgets); calls the installed example workers, the C++
// one and the Python one with the installed Python SDK (Process).
#include <offload/core/threadpool.h>
#include <offload/coro/task.h>
#include <offload/forms/moduleform.h>
#include <offload/modules/modulerunner.h>
#include <offload/monitor/taskmodel.h>
#include <offload/process/workerpool.h>
#include <offload/widgets/taskmonitorwidget.h>

#include <QApplication>
#include <QJsonObject>
#include <QSpinBox>
#include <QTimer>

#include <cstdio>

namespace {
offload::Task<int> answer(QObject *context)
{
    co_return co_await offload::run(context, [] { return 6 * 7; });
}

// The primes below 1000 counted by an installed example worker; -1 if the call did not finish.
offload::Task<int> primes(QObject *context, offload::WorkerPoolSpec spec)
{
    spec.maxWorkers = 1;
    offload::WorkerPool pool(std::move(spec));
    auto call = pool.submit(
        context, QStringLiteral("countPrimes"), QJsonObject { { QStringLiteral("limit"), 1000 } });
    try {
        co_return (co_await call).value.toInt();
    } catch (const std::exception &e) {
        std::printf("consumer: worker call failed: %s\n", e.what());
        co_return -1;
    }
}

offload::Task<bool> examples(QObject *context)
{
    offload::WorkerPoolSpec cpp;
    cpp.program = QStringLiteral(EXAMPLES_DIR "/primeworker");
    offload::WorkerPoolSpec python;
    python.program = QStringLiteral("/usr/bin/python3");
    python.arguments = { QByteArrayLiteral(EXAMPLES_DIR "/primeworker.py") };
    python.environment.insert("PYTHONPATH", PYTHON_SDK_DIR);
    const int a = co_await primes(context, cpp);
    const int b = co_await primes(context, python);
    std::printf("consumer: example workers counted %d and %d primes below 1000\n", a, b);
    co_return a == 168 && b == 168;
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
        if (v != 42 || model.rowCount() < 2)
            return app.exit(1);
        examples(&app).onResult([&](bool ok) {
            exitCode = ok ? 0 : 1;
            app.quit();
        });
    });
    QTimer::singleShot(30000, &app, [&] { app.exit(2); });
    app.exec();
    std::printf("consumer: %s\n", exitCode == 0 ? "ok" : "failed");
    return exitCode;
}
