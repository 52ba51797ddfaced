#include "shellquote.h"

namespace studio {

static bool isPlain(const QString &word)
{
    if (word.isEmpty())
        return false;
    for (const QChar c : word) {
        const char16_t u = c.unicode();
        const bool ok = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9')
            || u == '_' || u == '-' || u == '.' || u == '/' || u == ',' || u == ':' || u == '+'
            || u == '@' || u == '%' || u == '=';
        if (!ok)
            return false;
    }
    // '=' in the first word would make the shell read an assignment, not a program.
    return true;
}

QString shellQuote(const QStringList &words)
{
    QStringList quoted;
    quoted.reserve(words.size());
    for (int i = 0; i < words.size(); ++i) {
        const QString &w = words[i];
        if (isPlain(w) && !(i == 0 && w.contains(QLatin1Char('='))))
            quoted << w;
        else
            quoted << QLatin1Char('\'')
                    + QString(w).replace(QLatin1String("'"), QLatin1String("'\\''"))
                    + QLatin1Char('\'');
    }
    return quoted.join(QLatin1Char(' '));
}

} // namespace studio
