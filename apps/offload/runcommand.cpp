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

int runCommand(const QStringList &args, const QByteArrayList &raw)
{
    CommandLine cl(QStringLiteral("run"));
    cl.addCommonOptions();
    const QCommandLineOption progress(
        QStringLiteral("progress"), QStringLiteral("how to read progress"), QStringLiteral("F"));
    cl.parser.addOption(progress);
    // Everything from the program on is the program's, options or not.
    cl.parser.setOptionsAfterPositionalArgumentsMode(
        QCommandLineParser::ParseAsPositionalArguments);
    CommonOptions common;
    if (const auto code = cl.parse(args))
        return *code;
    if (const auto code = cl.readCommonOptions(common))
        return *code;
    ProgramSpec spec;
    if (cl.parser.isSet(progress)) {
        static const QMap<QString, ProgressFormat> formats { { "auto", ProgressFormat::Auto },
            { "sem", ProgressFormat::Sem }, { "lines", ProgressFormat::Lines },
            { "raw", ProgressFormat::Raw }, { "none", ProgressFormat::None } };
        const QString given = cl.parser.value(progress);
        if (!formats.contains(given))
            return usageError(QStringLiteral("--progress is one of auto, sem, lines, raw, none"));
        spec.progress = formats.value(given);
    }
    const QStringList program = cl.parser.positionalArguments();
    if (program.isEmpty())
        return usageError(QStringLiteral("no program given"));
    // The positional arguments are the tail of the arguments (a leading "--" aside): the
    // same tail of the bytes, so that each argument reaches the program exactly.
    spec.program = program.first();
    spec.arguments = raw.mid(raw.size() - program.size() + 1);
    spec.timeout = common.timeout;
    spec.launcher = common.launcher;
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
