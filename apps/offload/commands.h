// The offload tool's subcommands; each runs the event loop and returns the process exit code.
#pragma once

#include <QByteArrayList>
#include <QStringList>

// raw: the same arguments as bytes (the program's arguments are passed exactly).
int runCommand(
    const QStringList &args, const QByteArrayList &raw); // offload run [options] -- PROGRAM ARGS...
int describeCommand(const QStringList &args); // offload describe MODULE_OR_XML [--json]
int moduleCommand(const QStringList &args); // offload module MODULE [--NAME VALUE ...] [--json]
int batchCommand(const QStringList &args); // offload batch -j N FILE [--json]
