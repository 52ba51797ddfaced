// shellQuote: a command line as one line a POSIX shell reads back as the same words.
#pragma once

#include <QStringList>

namespace studio {

// Words made only of characters no shell treats specially are left bare; every other word,
// an empty one included, is single-quoted (a quote inside as '\''). Any thread.
QString shellQuote(const QStringList &words);

} // namespace studio
