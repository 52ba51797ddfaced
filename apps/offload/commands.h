// The offload tool's subcommands; each runs the event loop and returns the process exit code.
#pragma once

#include <QStringList>

int runCommand(const QStringList &args);      // offload run [options] -- PROGRAM ARGS...
int describeCommand(const QStringList &args); // offload describe MODULE_OR_XML [--json]
int moduleCommand(const QStringList &args);   // offload module MODULE [--NAME VALUE ...] [--json]
int batchCommand(const QStringList &args);    // offload batch -j N FILE [--json]
