// shellQuote: words as one command line that a POSIX shell reads back as the same words.
#pragma once

#include <offload/process/export.h>

#include <QByteArrayList>
#include <QStringList>

namespace offload {

// Words made only of characters that no POSIX shell (sh, dash, bash, ksh, zsh) treats
// specially are left bare; every other word, an empty one included, is single-quoted, a quote
// inside it written as '\''. Inside single quotes every byte is literal, so no word can run a
// command, expand a variable or end the line: ';', '$(...)', backquotes, newlines, invalid
// UTF-8 all come back as they went in. The first word is quoted when it contains '=' (else it
// would be read as an assignment), and a word starting with '=' or '~' always (zsh and tilde
// expansion). Any thread.
OFFLOAD_PROCESS_EXPORT QByteArray shellQuote(const QByteArrayList &words);
// The same for text, encoded as UTF-8 (for showing a command line to a person).
OFFLOAD_PROCESS_EXPORT QString shellQuote(const QStringList &words);

} // namespace offload
