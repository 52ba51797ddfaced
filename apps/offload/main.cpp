// offload: run command-line programs and Slicer Execution Model modules as Offload tasks,
// with live progress on a terminal or JSON events, and clean cancellation on Ctrl-C.
#include "commands.h"

#include <QCoreApplication>

#include <cerrno>
#include <cstdio>

#include <fcntl.h>
#include <unistd.h>

namespace {
const char usage[]
    = "usage:\n"
      "  offload run [--progress auto|sem|lines|raw|none] [--timeout S] [--on PLACE] [--json] -- "
      "PROGRAM ARGS...\n"
      "  offload describe MODULE_OR_XML [--json]\n"
      "  offload module MODULE [--params FILE.json] [--NAME VALUE ...] [--timeout S] [--on PLACE] "
      "[--json]\n"
      "  offload batch [-j N] [--on PLACE] [--json] FILE     (one command line per line; '#' "
      "starts a comment)\n"
      "\n"
      "PLACE: local (the default); ssh://[user@]host[:port] (the system's ssh, keys only, with\n"
      "--ssh-config FILE instead of ~/.ssh/config if given); slurm[:PARTITION] (an srun step)\n"
      "or sbatch[:PARTITION] (a batch job). A module is described here and run at the same\n"
      "path there.\n"
      "\n"
      "Exit code: the program's; 128+N if it (or offload, on Ctrl-C/SIGTERM) was stopped by signal "
      "N;\n"
      "124 on timeout; 127 if it could not be started; 2 for invalid arguments.\n";
}

// Started with 0, 1 or 2 closed, the next descriptor opened (Qt's own eventfd) would take
// that number and be handed to programs as their stdin or written to as our stdout. A closed
// stdin reads as empty and a closed stderr discards; a closed stdout is refused, as every byte
// of output would be lost.
static bool reserveStandardDescriptors()
{
    bool stdoutClosed = false;
    for (int fd = 0; fd <= 2; ++fd) {
        if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        stdoutClosed |= fd == STDOUT_FILENO;
        const int null = ::open("/dev/null", O_RDWR); // the lowest free number: fd itself
        if (null != fd && null >= 0)
            ::close(null);
    }
    return !stdoutClosed;
}

int main(int argc, char **argv)
{
    if (!reserveStandardDescriptors()) {
        std::fputs("offload: standard output is closed; nothing it prints could arrive\n", stderr);
        return 2;
    }
    QCoreApplication app(argc, argv);
    // Arguments as bytes (a file name need not be UTF-8), and as text for option parsing.
    QByteArrayList raw;
    QStringList args;
    for (int i = 1; i < argc; ++i) {
        raw << QByteArray(argv[i]);
        args << QString::fromLocal8Bit(argv[i]);
    }
    if (args.isEmpty() || args[0] == QLatin1String("-h") || args[0] == QLatin1String("--help")) {
        std::fputs(usage, args.isEmpty() ? stderr : stdout);
        return args.isEmpty() ? 2 : 0;
    }
    const QString command = args.takeFirst();
    raw.removeFirst();
    if (command == QLatin1String("run"))
        return runCommand(args, raw);
    if (command == QLatin1String("describe"))
        return describeCommand(args);
    if (command == QLatin1String("module"))
        return moduleCommand(args);
    if (command == QLatin1String("batch"))
        return batchCommand(args);
    std::fprintf(stderr, "offload: unknown command '%s'\n\n%s", qPrintable(command), usage);
    return 2;
}
