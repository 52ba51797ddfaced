// offload-studio: modules, generated forms, many runs at once, the monitor and a run history.
// --headless --script FILE.json runs a scripted session on the offscreen platform and prints
// a JSON summary (exit code 1 when a run did not end as the script expected).
#include "scriptsession.h"
#include "studiowindow.h"

#include <QApplication>
#include <QCommandLineParser>
#include <QFileInfo>
#include <QJsonDocument>
#include <QSettings>
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
    QApplication::setOrganizationName(QStringLiteral("Offload"));
    QApplication::setApplicationName(QStringLiteral("Offload Studio"));
    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Offload Studio: run modules and watch every task"));
    parser.addHelpOption();
    parser.addOption({ QStringLiteral("headless"),
        QStringLiteral("No window on screen (offscreen platform); needs --script.") });
    parser.addOption({ QStringLiteral("script"),
        QStringLiteral("Run the session described by FILE.json, print a JSON summary and quit."),
        QStringLiteral("FILE") });
    parser.addOption({ QStringLiteral("settings"),
        QStringLiteral("Keep settings in this INI file instead of the user's."),
        QStringLiteral("FILE") });
    parser.addOption({ QStringLiteral("history"),
        QStringLiteral("Use this history database (overrides the setting)."),
        QStringLiteral("FILE") });
    parser.addOption({ QStringLiteral("module-path"),
        QStringLiteral("Also discover modules in this file or folder (repeatable)."),
        QStringLiteral("PATH") });
    parser.addOption({ QStringLiteral("timeout"),
        QStringLiteral("Scripted session: give up after N seconds (default 600)."),
        QStringLiteral("N"), QStringLiteral("600") });
    parser.process(app);

    const QString scriptPath = parser.value(QStringLiteral("script"));
    if (headless && scriptPath.isEmpty()) {
        std::fprintf(stderr, "offload-studio: --headless needs --script FILE.json\n");
        return 2;
    }
    QJsonObject script;
    if (!scriptPath.isEmpty()) {
        // Refuses, without blocking, what is not a small regular file, and a script with a
        // mistake in it (naming the place), before any window or module is touched.
        QString error;
        const auto loaded = studio::ScriptSession::load(scriptPath, &error);
        if (!loaded) {
            std::fprintf(stderr, "offload-studio: %s\n", qPrintable(error));
            return 2;
        }
        script = *loaded;
    }

    const QString settingsFile = parser.value(QStringLiteral("settings"));
    auto settings = settingsFile.isEmpty()
        ? std::make_unique<QSettings>()
        : std::make_unique<QSettings>(settingsFile, QSettings::IniFormat);
    {
        studio::StudioSettings s = studio::StudioSettings::load(*settings);
        if (parser.isSet(QStringLiteral("history")))
            s.historyPath = QFileInfo(parser.value(QStringLiteral("history"))).absoluteFilePath();
        for (const QString &p : parser.values(QStringLiteral("module-path")))
            if (!s.modulePaths.contains(QFileInfo(p).absoluteFilePath()))
                s.modulePaths << QFileInfo(p).absoluteFilePath();
        s.save(*settings);
    }

    studio::StudioWindow window(std::move(settings));
    window.show();
    if (scriptPath.isEmpty())
        return app.exec();

    window.setQuitPolicy(studio::StudioWindow::QuitPolicy::CancelRuns);
    studio::ScriptSession session(&window, script, QFileInfo(scriptPath).absolutePath());
    int exitCode = 0;
    const auto report = [&](bool timedOut) {
        QJsonObject summary = session.summary();
        if (timedOut) {
            summary.insert(QStringLiteral("ok"), false);
            summary.insert(QStringLiteral("error"), QStringLiteral("the session timed out"));
        }
        std::printf("%s\n", QJsonDocument(summary).toJson(QJsonDocument::Compact).constData());
        std::fflush(stdout);
        exitCode = summary.value(QLatin1String("ok")).toBool() ? 0 : 1;
        window.close(); // cancels what still runs and quits once every run has ended
    };
    QObject::connect(&session, &studio::ScriptSession::finished, &window, [&] { report(false); });
    QTimer::singleShot(
        std::chrono::seconds(std::max(1, parser.value(QStringLiteral("timeout")).toInt())), &window,
        [&] { report(true); });
    session.start();
    const int rc = app.exec();
    return rc != 0 ? rc : exitCode;
}
