// Private: a program run's return-parameter file on this machine: a private (0700) directory
// made for it, the file read back without blocking (bounded, never a FIFO or a link), and the
// directory removed. Any thread; each call touches only the directory it is given.
#pragma once

#include <QByteArray>
#include <QByteArrayList>
#include <QString>

#include <optional>

namespace offload::detail {

// Makes the directory (into returnDir) and puts its file into arguments, for every argument
// equal to ProgramSpec::returnParameterFilePlaceholder, else as "--returnparameterfile FILE"
// at the end. False with errno on failure.
bool prepareReturnFile(QByteArray &returnDir, QByteArrayList &arguments);
// Reads the file and removes the directory (returnDir is cleared). A file that is there but
// cannot be taken as it is gives a sentence in *problem. Nothing if none was asked for or
// written.
std::optional<QByteArray> collectReturnFile(QByteArray &returnDir, QString *problem);
// Removes the directories of Offload processes that no longer exist.
void removeStaleReturnDirs();

} // namespace offload::detail
