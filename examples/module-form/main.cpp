// module-form: any Slicer CLI module as a window, without writing a widget for it: its
// description becomes a form, Run starts it off the GUI thread, progress shows as it comes, and
// the values it returns fill the form. Values are remembered between sessions.
// Shows: ModuleRunner::describe, offload::ModuleForm, ModuleRunner::run with form.values(),
// ModuleRunner::returnValues into setOutputValues, QSettings persistence.
// Run: module-form [MODULE] [--headless [--screenshot FILE.png] NAME=VALUE ...]
//   (default MODULE: offload-example-blur). --headless fills the form from NAME=VALUE, runs
//   once, prints the return parameters and, with --screenshot, saves the window as it ends.
#include <offload/forms/moduleform.h>
#include <offload/modules/modulerunner.h>

#include <QApplication>
#include <QLabel>
#include <QProgressBar>
#include <QPushButton>
#include <QScrollArea>
#include <QSettings>
#include <QVBoxLayout>

#include <cstdio>

namespace {

class ModuleWindow : public QWidget
{
public:
    ModuleWindow(offload::ModuleRunner &runner, const offload::Module &module)
        : m_runner(runner), m_module(module), m_form(new offload::ModuleForm(module.description))
    {
        setWindowTitle(module.description.title);
        auto *scroll = new QScrollArea(this);
        scroll->setWidgetResizable(true);
        scroll->setWidget(m_form); // the scroll area owns the form
        m_run->setEnabled(m_form->isValid());
        m_status->setTextFormat(Qt::PlainText);
        auto *layout = new QVBoxLayout(this);
        layout->addWidget(scroll, 1);
        layout->addWidget(m_progress);
        layout->addWidget(m_status);
        layout->addWidget(m_run);
        connect(m_form, &offload::ModuleForm::validityChanged, m_run, &QPushButton::setEnabled);
        connect(m_run, &QPushButton::clicked, this, [this] { run(); });
        resize(600, 700);
    }

    offload::ModuleForm &form() { return *m_form; }

    // Runs the module with the form's values; done(ok) is called on this (the GUI) thread.
    void run(std::function<void(bool)> done = {})
    {
        m_run->setEnabled(false);
        m_form->clearOutputValues();
        m_task = m_runner.run(this, m_module, m_form->values());
        m_task.onProgress([this](const offload::Progress &p) {
            m_progress->setValue(int(p.fraction() * 100));
            m_status->setText(p.text);
        });
        m_task.onFinished([this, done](const offload::TaskHandle<offload::ProgramResult> &t) {
            const bool ok = t.state() == offload::TaskState::Finished;
            m_run->setEnabled(m_form->isValid());
            if (ok) {
                m_returned = offload::ModuleRunner::returnValues(m_module, t.result()).values;
                m_form->setOutputValues(m_returned);
            }
            m_status->setText(ok ? tr("Finished") : t.error().summary());
            if (done)
                done(ok);
        });
    }

    const QVariantMap &returned() const { return m_returned; }

private:
    offload::ModuleRunner &m_runner;
    offload::Module m_module;
    offload::ModuleForm *m_form;
    QProgressBar *m_progress = new QProgressBar(this);
    QLabel *m_status = new QLabel(this);
    QPushButton *m_run = new QPushButton(tr("Run"), this);
    offload::TaskHandle<offload::ProgramResult> m_task;
    QVariantMap m_returned;
};

} // namespace

int main(int argc, char **argv)
{
    // Headless: no display needed (unless a platform is chosen explicitly).
    for (int i = 1; i < argc; ++i)
        if (qstrcmp(argv[i], "--headless") == 0 && qEnvironmentVariableIsEmpty("QT_QPA_PLATFORM"))
            qputenv("QT_QPA_PLATFORM", "offscreen");
    QApplication app(argc, argv);
    app.setOrganizationName(QStringLiteral("Offload"));
    app.setApplicationName(QStringLiteral("module-form"));
    QStringList args = app.arguments().mid(1);
    const bool headless = args.removeAll(QStringLiteral("--headless")) > 0;
    QString screenshot;
    if (const qsizetype i = args.indexOf(QStringLiteral("--screenshot"));
        i >= 0 && i + 1 < args.size()) {
        screenshot = args.at(i + 1);
        args.remove(i, 2);
    }
    const QString path = !args.isEmpty() && !args.first().contains(QLatin1Char('='))
        ? args.takeFirst()
        : QCoreApplication::applicationDirPath() + QStringLiteral("/offload-example-blur");

    offload::ModuleRunner runner;
    std::unique_ptr<ModuleWindow> window;
    auto described = runner.describe(&app, path);
    described.onFinished([&](const offload::TaskHandle<offload::Module> &t) {
        if (t.state() != offload::TaskState::Finished) {
            std::fprintf(stderr, "module-form: %s\n", qPrintable(described.error().summary()));
            app.exit(1);
            return;
        }
        window = std::make_unique<ModuleWindow>(runner, described.result());
        if (!headless) {
            QSettings settings;
            window->form().restoreSettings(settings);
            QObject::connect(&app, &QApplication::aboutToQuit, window.get(), [&window] {
                QSettings settings;
                window->form().saveSettings(settings);
            });
            window->show();
            return;
        }
        QVariantMap values;
        for (const QString &a : args)
            values.insert(a.section(QLatin1Char('='), 0, 0), a.section(QLatin1Char('='), 1));
        for (const QString &complaint : window->form().setValues(values))
            std::fprintf(stderr, "module-form: %s\n", qPrintable(complaint));
        if (!window->form().isValid()) {
            std::fprintf(
                stderr, "module-form: %s\n", qPrintable(window->form().errors().join('\n')));
            app.exit(2);
            return;
        }
        window->show();
        window->run([&app, &window, screenshot](bool ok) {
            if (!screenshot.isEmpty() && !window->grab().save(screenshot))
                std::fprintf(stderr, "module-form: cannot write %s\n", qPrintable(screenshot));
            const QVariantMap &returned = window->returned();
            for (auto it = returned.cbegin(); it != returned.cend(); ++it)
                std::printf("%s = %s\n", qPrintable(it.key()),
                    qPrintable(it.value().typeId() == QMetaType::QVariantList
                            ? it.value().toStringList().join(QLatin1Char(','))
                            : it.value().toString()));
            app.exit(ok ? 0 : 1);
        });
    });
    return app.exec();
}
