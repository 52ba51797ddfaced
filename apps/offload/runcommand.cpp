// offload run [options] -- PROGRAM ARGS...: one program, its progress and output shown.
#include "commands.h"
#include "commandsupport.h"

#include <QCoreApplication>
#include <QJsonArray>
#include <QJsonDocument>
#include <QMap>

#include <cstdio>

#include <unistd.h>

using namespace offload;
using namespace cli;

int runCommand(const QStringList &argsIn, const QByteArrayList &raw)
{
    QStringList args = argsIn;
    CommonOptions common;
    ProgramSpec spec;
    int i = 0;
    for (; i < args.size(); ++i) {
        const QString &a = args[i];
        if (a == QLatin1String("--")) {
            ++i;
            break;
        }
        if (takeOption(args, i, common))
            continue;
        if (a == QLatin1String("--progress") && i + 1 < args.size()) {
            static const QMap<QString, ProgressFormat> formats { { "auto", ProgressFormat::Auto },
                { "sem", ProgressFormat::Sem }, { "lines", ProgressFormat::Lines },
                { "raw", ProgressFormat::Raw }, { "none", ProgressFormat::None } };
            if (!formats.contains(args[++i]))
                return usageError(
                    QStringLiteral("--progress is one of auto, sem, lines, raw, none"));
            spec.progress = formats.value(args[i]);
            continue;
        }
        if (a.startsWith(QLatin1Char('-')))
            return usageError(QStringLiteral("unknown option %1").arg(a));
        break; // the program
    }
    if (!common.error.isEmpty())
        return usageError(common.error);
    if (i >= args.size())
        return usageError(QStringLiteral("no program given"));
    spec.program = args[i];
    spec.arguments = raw.mid(i + 1);
    spec.timeout = common.timeout;
    Reporter rep(common.json);
    if (spec.progress == ProgressFormat::Raw) {
        // Streamed both ways, never held whole: the program reads our stdin itself, and its
        // stdout is passed on chunk by chunk as it comes (base64 in JSON events).
        spec.progress = ProgressFormat::None;
        spec.stdinFd = STDIN_FILENO;
        rep.setBinaryOutput(true);
    }
    ProgramRunner runner(1);
    const auto run = runner.run(qApp, spec);
    return waitForRun(rep, run, [&rep](const TaskHandle<ProgramResult> &t) {
        if (rep.json())
            return rep.event(finishedEvent(t));
        if (const ProgramResult *r = resultOf(t)) {
            if (!r->json.isUndefined()) {
                // Any JSON value as JSON text: wrapped in an array, then the brackets dropped.
                const QByteArray text
                    = QJsonDocument(QJsonArray { r->json }).toJson(QJsonDocument::Compact);
                std::printf("%s\n", text.mid(1, text.size() - 2).constData());
            }
            for (auto it = r->semResults.cbegin(); it != r->semResults.cend(); ++it)
                std::printf("%s = %s\n", qPrintable(it.key()), qPrintable(it.value()));
        }
        printFailure(rep, t);
    });
}
