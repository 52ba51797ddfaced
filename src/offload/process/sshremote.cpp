#include "sshremote_p.h"

#include <offload/process/shellquote.h>

#include <QFile>
#include <QRandomGenerator>

namespace offload::detail::ssh {

namespace {

// The control script (see controlCommand). Its directory $d is named by the caller's token, so
// that a run over the master need not wait for this script to start: whichever comes first
// makes it, in the user's runtime directory (private) or /tmp, never $TMPDIR (a login script
// may set one per session). If someone else holds that name, the script makes a private one
// and names it in its ready line; runs that came first then fail "noregister". A run is
// named by its nonce; it registers itself in $d/<nonce> ("PGID starttime") before it starts
// the program. Only registered groups are
// ever signalled, and one whose leader's pid now names another process (its start time
// differs) is left alone. A stop that comes before the registration leaves $d/<nonce>.stop,
// which the run checks after registering: one of the two always sees the other.
const char controlScript[] = R"SH(
shift
case $1 in ''|*[!0-9a-f]*) exit 1 ;; esac
b=/tmp
if [ -n "${XDG_RUNTIME_DIR-}" ] && [ -d "$XDG_RUNTIME_DIR" ] && [ -O "$XDG_RUNTIME_DIR" ] \
  && [ -w "$XDG_RUNTIME_DIR" ]; then b=$XDG_RUNTIME_DIR; fi
d=$b/offload-ssh.$1
[ -d "$d" ] || mkdir -m 700 "$d" 2>/dev/null
if ! { [ -d "$d" ] && [ ! -L "$d" ] && [ -O "$d" ]; }; then
  d=$(mktemp -d "${TMPDIR:-/tmp}/offload-ssh.XXXXXX") || exit 1
fi
started() { [ -r "/proc/$1/stat" ] && sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20; }
tree() {
  ps -e -o pid= -o ppid= -o pgid= 2>/dev/null | awk -v g="$1" '
    { p[$1] = $2; if ($3 == g) s[$1] = 1 }
    END { do { c = 0; for (x in p) if (!(x in s) && (p[x] in s)) { s[x] = 1; c = 1 } } while (c)
          for (x in s) print x }'
}
hit() {
  f=$d/$2
  # Not registered yet: the run finds the stop file once it has registered and stops itself.
  [ -f "$f" ] || { : > "$f.stop"; [ -f "$f" ] || return 0; }
  read -r g st < "$f" || return 0
  case $g in ''|*[!0-9]*) return 0 ;; esac
  now=$(started "$g")
  if [ -n "$now" ] && [ -n "$st" ] && [ "$now" != "$st" ]; then rm -f "$f" "$f.esc"; return 0; fi
  for p in $(tree "$g"); do echo "$p $(started "$p")" >> "$f.esc"; done
  kill -"$1" -"$g" 2>/dev/null
  if [ -f "$f.esc" ]; then
    while read -r p ps; do
      if [ -z "$ps" ] || [ "$(started "$p")" = "$ps" ]; then kill -"$1" "$p" 2>/dev/null; fi
    done < "$f.esc"
  fi
  if [ "$1" = 9 ]; then rm -f "$f" "$f.esc" "$f.stop"; fi
}
all() {
  hits=0
  for f in "$d"/*; do
    n=${f##*/}
    case $n in ''|*[!0-9a-f]*) ;; *) hits=1; hit "$1" "$n" ;; esac
  done
}
# A run's return-parameter file, sent as "\036offload:file:NONCE:STATUS:SIZE" and SIZE bytes
# (a snapshot, so that the size holds); its private directory goes first.
get() {
  r=$d/$1.rp; t=; s=missing; n=0
  [ -f "$r" ] && read -r t < "$r"
  f=$t/returnparameters.txt
  if [ -z "$t" ]; then :
  elif [ -L "$f" ]; then s=notregular
  elif [ -f "$f" ]; then
    if cp "$f" "$d/$1.snap" 2>/dev/null; then
      n=$(wc -c < "$d/$1.snap"); n=$((n + 0))
      if [ "$n" -gt 16777216 ]; then s=toolarge n=0; else s=ok; fi
    fi
  elif [ -e "$f" ]; then s=notregular
  fi
  # The run's files go before the answer: it is reported with nothing of it left over there.
  rm -f "$r" ${t:+"$f"}
  [ -z "$t" ] || rmdir "$t" 2>/dev/null
  printf '\036offload:file:%s:%s:%s\n' "$1" "$s" "$n"
  [ "$s" != ok ] || cat "$d/$1.snap"
  rm -f "$d/$1.snap"
}
printf '\036offload:ready:%s\n' "$d"
while read -r c s g; do
  case $g in ''|*[!0-9a-f]*) continue ;; esac
  case $c:$s in
    get:-) get "$g" ;;
    end:-) rm -f "$d/$g" "$d/$g.esc" "$d/$g.stop" ;;
    sig:*[!0-9]*|sig:) ;;
    sig:*) hit "$s" "$g" ;;
  esac
done
all 15
[ "$hits" = 0 ] || sleep 1
all 9
for r in "$d"/*.rp; do [ -f "$r" ] && read -r t < "$r" && rm -f "$t/returnparameters.txt" && rmdir "$t"; done 2>/dev/null
rm -rf "$d"
)SH";

// The wrapper of one program (see runCommand). It runs as its own process group's leader
// (sshd makes every session one; setsid where not), so the group is the program's tree. Its
// variables carry a prefix that validVariableName refuses, and the spec's variables are set
// only in the subshells that look the program up and become it, so no value of theirs can
// change what this script does.
const char runScript[] = R"SH(
_offload_s=$1; shift
if ! kill -0 -"$$" 2>/dev/null && command -v setsid >/dev/null 2>&1; then
  exec setsid /bin/sh -c 'eval "$1"' offload-run "$_offload_s" "$@"
fi
_offload_n=$1 _offload_d=$2 _offload_w=$3 _offload_ni=$4 _offload_e=$5 _offload_rp=$6 _offload_sd=$7
shift 7
_offload_m() {
  printf '\036offload:%s:%s\n' "$_offload_n" "$1"; printf '\036offload:%s:%s\n' "$_offload_n" "$1" >&2
}
kill -0 -"$$" 2>/dev/null || { _offload_m nogroup; exit 126; }
_offload_env() {
  _offload_k=0
  while [ "$_offload_k" -lt "$_offload_e" ]; do
    case $1 in -*) unset -v "${1#-}" ;; *) export "$1" ;; esac
    shift; _offload_k=$((_offload_k + 1))
  done
}
# The connection's directory: as the ready line named it (a path), or from the connection's
# token before the control script spoke: "+TOKEN" over the master (the same host: made here
# if this run came first), "=TOKEN" on a connection of its own (maybe another host: never).
_offload_mk=
case $_offload_d in
  [+=]*)
    case $_offload_d in +*) _offload_mk=1 ;; esac
    _offload_b=/tmp
    if [ -n "${XDG_RUNTIME_DIR-}" ] && [ -d "$XDG_RUNTIME_DIR" ] && [ -O "$XDG_RUNTIME_DIR" ] \
      && [ -w "$XDG_RUNTIME_DIR" ]; then _offload_b=$XDG_RUNTIME_DIR; fi
    _offload_d=$_offload_b/offload-ssh.${_offload_d#?} ;;
esac
if [ -n "$_offload_d" ]; then
  [ -d "$_offload_d" ] || [ -z "$_offload_mk" ] || mkdir -m 700 "$_offload_d" 2>/dev/null
  [ -d "$_offload_d" ] && [ ! -L "$_offload_d" ] && [ -O "$_offload_d" ] || { _offload_m noregister; exit 126; }
fi
if [ -n "$_offload_w" ] && ! CDPATH= cd -P -- "$_offload_w" 2>/dev/null; then
  _offload_m nodir; exit 127
fi
# A program as exec finds it in the search path $2: a file, never a builtin or a function.
# Sets _offload_hit; without a subshell, as each costs a fork.
_offload_find() {
  _offload_hit=
  case $1 in
    */*) if [ -f "$1" ] && [ -x "$1" ]; then _offload_hit=$1; fi; return ;;
  esac
  _offload_ifs=$IFS; IFS=:; set -f
  # A trailing ':' (or nothing at all) is an empty entry, the working directory, which
  # splitting would drop.
  _offload_x=$2
  case $_offload_x in *:|'') _offload_x=$_offload_x. ;; esac
  for _offload_x in $_offload_x; do
    _offload_x=${_offload_x:-.}/$1
    if [ -f "$_offload_x" ] && [ -x "$_offload_x" ]; then _offload_hit=$_offload_x; break; fi
  done
  IFS=$_offload_ifs; set +f
}
# The program is looked up with the spec's PATH: the last of its changes to PATH, if any.
_offload_path=${PATH-/usr/bin:/bin} _offload_k=0 _offload_hit=
for _offload_a do
  if [ "$_offload_k" -lt "$_offload_e" ]; then
    case $_offload_a in PATH=*) _offload_path=${_offload_a#PATH=} ;; -PATH) _offload_path=/usr/bin:/bin ;; esac
  else
    _offload_find "$_offload_a" "$_offload_path"; break
  fi
  _offload_k=$((_offload_k + 1))
done
_offload_p=$_offload_hit
[ -n "$_offload_p" ] || { _offload_m missing; exit 127; }
_offload_nice=
if [ "$_offload_ni" -gt 0 ]; then _offload_find nice "${PATH-/usr/bin:/bin}"; _offload_nice=$_offload_hit; fi
# The return-parameter file: a private directory, its path put in for the placeholder. The
# caller's own, where it is seen here (a file system both share holds its note of this run).
_offload_shared=
# Its own, as the caller made it: not a link, this user's, writable here.
if [ -n "$_offload_rp" ] && [ -n "$_offload_sd" ] && [ -d "$_offload_sd" ] && [ ! -L "$_offload_sd" ] \
  && [ -O "$_offload_sd" ] && [ -w "$_offload_sd" ] \
  && read -r _offload_l 2>/dev/null < "$_offload_sd/.offload-shared" && [ "$_offload_l" = "$_offload_n" ]; then
  _offload_shared=1 _offload_t=$_offload_sd
elif [ -n "$_offload_rp" ]; then
  _offload_t=$(mktemp -d "${TMPDIR:-/tmp}/offload-return.XXXXXX") || { _offload_m notemp; exit 126; }
  [ -z "$_offload_d" ] || echo "$_offload_t" > "$_offload_d/$_offload_n.rp"
fi
if [ -n "$_offload_rp" ]; then
  for _offload_a do
    shift
    if [ "$_offload_a" = "$_offload_rp" ]; then _offload_a=$_offload_t/returnparameters.txt; fi
    set -- "$@" "$_offload_a"
  done
fi
# Registered atomically (a stop that reads it sees all of it), then the stop file checked.
if [ -n "$_offload_d" ]; then
  # The start time: field 22 of /proc/PID/stat, read without starting a process.
  _offload_st=
  _offload_f20() { _offload_st=${20-}; }
  if read -r _offload_l 2>/dev/null < "/proc/$$/stat"; then
    set -f; _offload_f20 ${_offload_l##*) }; set +f
  fi
  { echo "$$ $_offload_st" > "$_offload_d/$_offload_n.new" \
    && mv -f "$_offload_d/$_offload_n.new" "$_offload_d/$_offload_n"; } 2>/dev/null \
    || { _offload_m noregister; exit 126; }
  if [ -e "$_offload_d/$_offload_n.stop" ]; then
    rm -f "$_offload_d/$_offload_n" "$_offload_d/$_offload_n.stop"; _offload_m stopped; exit 143
  fi
fi
trap : HUP INT TERM
_offload_m "pid:$$ ${SLURM_JOB_ID-} ${SLURMD_NODENAME-}"
(
  _offload_env "$@"; shift "$_offload_e"; shift
  if [ -n "$_offload_nice" ]; then exec "$_offload_nice" -n "$_offload_ni" "$_offload_p" "$@"; fi
  exec "$_offload_p" "$@"
)
_offload_c=$?
# A closed stream must not end this script before the group is dealt with.
trap '' PIPE
if [ -n "$_offload_d" ]; then
  # Over ssh the exit is reported, then the group goes, this script with it: sshd still sends
  # what was written. The control script drops the registration when told the run ended.
  printf '\036offload:%s:exit:%s\n' "$_offload_n" "$_offload_c" >&2
  kill -9 -"$$" 2>/dev/null
  exit "$_offload_c"
fi
# With Slurm, what is left goes first (this script stays: it must end by itself, as Slurm drops
# a killed task's last output). The step's cgroup, where Slurm made one, holds the whole tree,
# a process that left the group included, and is read without starting a process; else the
# group, by pgrep where it takes -g (1: none found), or, as on BusyBox, ps.
_offload_cg=
if [ -n "${SLURM_JOB_ID-}" ] && [ -r /proc/self/cgroup ]; then
  while IFS= read -r _offload_l; do
    case $_offload_l in
      *:freezer:/*/job_*/step_*) _offload_cg=/sys/fs/cgroup/freezer${_offload_l#*:freezer:} ;;
      0::/*/job_*/step_*) [ -n "$_offload_cg" ] || _offload_cg=/sys/fs/cgroup${_offload_l#0::} ;;
    esac
  done < /proc/self/cgroup
fi
if [ -n "$_offload_cg" ] && [ -r "$_offload_cg/cgroup.procs" ]; then
  # Again while a pass found any: a process may start another while the first goes.
  _offload_k=0 _offload_l=1
  while [ "$_offload_l" = 1 ] && [ "$_offload_k" -lt 5 ]; do
    _offload_l=0 _offload_k=$((_offload_k + 1))
    while read -r _offload_q; do
      [ "$_offload_q" = "$$" ] || { kill -9 "$_offload_q" 2>/dev/null; _offload_l=1; }
    done < "$_offload_cg/cgroup.procs"
  done
else
  _offload_l=$(pgrep -g "$$" 2>/dev/null)
  [ "$?" -le 1 ] || _offload_l=$(ps -e -o pid= -o pgid= 2>/dev/null | awk -v g="$$" '$2 == g { print $1 }')
  for _offload_q in $_offload_l; do
    [ "$_offload_q" = "$$" ] || kill -9 "$_offload_q" 2>/dev/null
  done
fi
# Without a control script the return-parameter file follows on stderr, as "file:STATUS:SIZE"
# and SIZE bytes of a snapshot, now that nothing else of the group writes; "file:shared:0" if
# the caller reads it itself.
if [ -n "$_offload_shared" ]; then
  printf '\036offload:%s:file:shared:0\n' "$_offload_n" >&2
elif [ -n "$_offload_rp" ]; then
  _offload_f=$_offload_t/returnparameters.txt _offload_r=missing _offload_z=0
  if [ -L "$_offload_f" ]; then _offload_r=notregular
  elif [ -f "$_offload_f" ]; then
    if cp "$_offload_f" "$_offload_t/.snapshot" 2>/dev/null; then
      _offload_z=$(wc -c < "$_offload_t/.snapshot"); _offload_z=$((_offload_z + 0))
      if [ "$_offload_z" -gt 16777216 ]; then _offload_r=toolarge _offload_z=0; else _offload_r=ok; fi
    fi
  elif [ -e "$_offload_f" ]; then _offload_r=notregular
  fi
  printf '\036offload:%s:file:%s:%s\n' "$_offload_n" "$_offload_r" "$_offload_z" >&2
  [ "$_offload_r" != ok ] || cat "$_offload_t/.snapshot" >&2
  rm -rf "$_offload_t"
fi
printf '\036offload:%s:exit:%s\n' "$_offload_n" "$_offload_c" >&2
exit "$_offload_c"
)SH";

QByteArrayList shWords(const QByteArray &name, const char *script, const QByteArrayList &arguments)
{
    QByteArrayList words { "/bin/sh", "-c", "eval \"$1\"", name, QByteArray(script) };
    words += arguments;
    return words;
}

QByteArray viaSh(const QByteArray &name, const char *script, const QByteArrayList &arguments)
{
    // The login shell reads one line of plain words and single-quoted ones; the script runs
    // in /bin/sh whatever the login shell is ($1 holds it, so it can run itself again; $0
    // names it in the shell's messages).
    QByteArrayList words { "exec", "/bin/sh", "-c", "eval \"$1\"", name, QByteArray(script) };
    words += arguments;
    return shellQuote(words);
}

} // namespace

QStringList baseArguments(const SshTarget &t)
{
    QStringList a;
    if (!t.configFile.isEmpty())
        a << QStringLiteral("-F") << t.configFile;
    a << QStringLiteral("-T") << QStringLiteral("-x") << QStringLiteral("-a")
      << QStringLiteral("-e") << QStringLiteral("none");
    a << QStringLiteral("-o") << QStringLiteral("BatchMode=yes");
    a << QStringLiteral("-o")
      << QStringLiteral("ConnectTimeout=%1").arg(qMax<qint64>(1, t.connectTimeout.count()));
    a << QStringLiteral("-o") << QStringLiteral("ServerAliveInterval=15");
    a << QStringLiteral("-o") << QStringLiteral("ServerAliveCountMax=3");
    if (t.port > 0)
        a << QStringLiteral("-p") << QString::number(t.port);
    if (!t.user.isEmpty())
        a << QStringLiteral("-l") << t.user;
    if (!t.identityFile.isEmpty())
        a << QStringLiteral("-i") << t.identityFile;
    if (!t.knownHostsFile.isEmpty())
        a << QStringLiteral("-o") << QStringLiteral("UserKnownHostsFile=") + t.knownHostsFile
          << QStringLiteral("-o") << QStringLiteral("GlobalKnownHostsFile=/dev/null")
          << QStringLiteral("-o") << QStringLiteral("StrictHostKeyChecking=yes");
    for (const QString &o : t.options)
        a << QStringLiteral("-o") << o;
    return a;
}

QByteArray controlCommand(const QByteArray &token)
{
    return viaSh("offload-control", controlScript, { token });
}

QByteArrayList runArguments(const RemoteRun &r)
{
    QByteArrayList args { r.nonce, r.connectionDirectory, r.workingDirectory,
        QByteArray::number(qMax(0, r.niceness)),
        QByteArray::number(r.setVariables.size() + r.unsetVariables.size()),
        r.returnFilePlaceholder, r.sharedReturnDirectory };
    for (const QByteArray &name : r.unsetVariables)
        args << '-' + name;
    args += r.setVariables;
    args << r.program;
    args += r.arguments;
    return shWords("offload-run", runScript, args);
}

QByteArray runCommand(const RemoteRun &r)
{
    return shellQuote(QByteArrayList { "exec" } + runArguments(r));
}

std::optional<Error> prepareRun(const SpawnRequest &request, RemoteRun &run)
{
    const auto fail = [&](ErrorKind kind, const QString &why) {
        return Error { kind, QStringLiteral("cannot start '%1': %2").arg(request.program, why),
            request.program };
    };
    if (request.program.isEmpty() || request.program.startsWith(QLatin1Char('-')))
        return fail(ErrorKind::Launch, QStringLiteral("no valid program name given"));
    environmentChanges(
        request.environment, Environment::inherited(), &run.setVariables, &run.unsetVariables);
    // A name no shell can have cannot be set over there: an error if the caller set it; one
    // only inherited here cannot exist there either.
    run.unsetVariables.removeIf([](const QByteArray &name) { return !validVariableName(name); });
    for (const QByteArray &entry : run.setVariables) {
        const QByteArray name = entry.left(entry.indexOf('='));
        if (!validVariableName(name))
            return fail(ErrorKind::InvalidInput,
                QStringLiteral("'%1' is not a variable name a shell can set over there")
                    .arg(QString::fromLocal8Bit(name)));
    }
    quint64 words[2];
    QRandomGenerator::system()->fillRange(words);
    run.nonce = (QByteArray::number(words[0], 16) + QByteArray::number(words[1], 16)).left(24);
    run.program = QFile::encodeName(request.program);
    run.arguments = request.arguments;
    run.workingDirectory = QFile::encodeName(request.workingDirectory);
    run.niceness = request.niceness;
    run.returnFilePlaceholder = request.returnFileArgument;
    return std::nullopt;
}

bool validVariableName(const QByteArray &name)
{
    // The wrapper's own variables start with _offload_: no spec may set those.
    if (name.isEmpty() || (name[0] >= '0' && name[0] <= '9') || name.startsWith("_offload_"))
        return false;
    for (const char c : name)
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                || c == '_'))
            return false;
    return true;
}

void environmentChanges(
    const Environment &env, const Environment &local, QByteArrayList *set, QByteArrayList *unset)
{
    for (const QByteArray &entry : env.toList()) {
        const qsizetype eq = entry.indexOf('=');
        const QByteArray name = entry.left(eq);
        if (!local.contains(name) || local.value(name) != entry.mid(eq + 1))
            *set << entry;
    }
    for (const QByteArray &entry : local.toList()) {
        const QByteArray name = entry.left(entry.indexOf('='));
        if (!env.contains(name))
            *unset << name;
    }
}

QByteArray markerPrefix(const QByteArray &nonce)
{
    return "\036offload:" + nonce + ':';
}

Error classifyFailure(
    const QString &target, const QByteArray &stderrText, int exitCode, bool connected)
{
    Error e;
    e.kind = ErrorKind::Remote;
    e.origin = target;
    e.stderrTail = stderrText.right(4096);
    // Only lines of ssh's own are read: a login script or the program may print anything,
    // "Permission denied" included. ssh reports its failures with exit status 255.
    const QStringList lines = QString::fromLocal8Bit(stderrText).split(QLatin1Char('\n'));
    static const char *const sshLines[] = { "ssh: ", "Host key verification failed", "@",
        "Permission denied", "Too many authentication failures", "Connection to ",
        "Connection closed by", "Connection reset by", "client_loop: ", "mux_client",
        "Control socket", "kex_exchange_identification", "No ", "Write failed", "packet_write_wait",
        "Timeout, server", "banner exchange" };
    QStringList own;
    for (const QString &raw : lines) {
        const QString l = raw.trimmed();
        for (const char *start : sshLines) {
            // "user@host: Permission denied (publickey)." starts with the destination.
            if (l.startsWith(QLatin1String(start))
                || (l.contains(QLatin1String(": "))
                    && l.section(QLatin1String(": "), 1).startsWith(QLatin1String(start)))) {
                own << l;
                break;
            }
        }
    }
    const QString ownText = own.join(QLatin1Char('\n'));
    struct Rule
    {
        const char *needle;
        RemoteFailure failure;
    };
    // The most specific first: a changed key also says "verification failed".
    static const Rule rules[] = {
        { "REMOTE HOST IDENTIFICATION HAS CHANGED", RemoteFailure::HostKeyChanged },
        { "Host key verification failed", RemoteFailure::HostKeyUnknown },
        { "Permission denied", RemoteFailure::AuthenticationRefused },
        { "Too many authentication failures", RemoteFailure::AuthenticationRefused },
        { "Could not resolve hostname", RemoteFailure::HostUnreachable },
        { "Connection refused", RemoteFailure::HostUnreachable },
        { "Connection timed out", RemoteFailure::HostUnreachable },
        { "No route to host", RemoteFailure::HostUnreachable },
        { "Network is unreachable", RemoteFailure::HostUnreachable },
        { "Operation timed out", RemoteFailure::HostUnreachable },
    };
    QString said = own.isEmpty() ? QString() : own.last();
    if (connected) {
        // The program ran: whatever ssh said, the connection is what failed.
        e.remoteFailure = RemoteFailure::ConnectionLost;
        if (said.isEmpty())
            said = QStringLiteral("the connection ended before the program's exit was reported");
    } else if (exitCode == 255) {
        e.remoteFailure = RemoteFailure::HostUnreachable;
        for (const Rule &r : rules) {
            if (ownText.contains(QLatin1String(r.needle))) {
                e.remoteFailure = r.failure;
                break;
            }
        }
        if (said.isEmpty())
            said = QStringLiteral("ssh exited with code 255");
    } else {
        // ssh got in, but the remote side ended before anything of Offload's ran there.
        e.remoteFailure = RemoteFailure::None;
        QString last;
        for (auto it = lines.rbegin(); it != lines.rend() && last.isEmpty(); ++it)
            last = it->trimmed();
        said = QStringLiteral("the remote side ended with code %1 before the program started%2")
                   .arg(exitCode)
                   .arg(last.isEmpty() ? QString() : QStringLiteral(": ") + last.left(300));
    }
    e.message = QStringLiteral("%1: %2").arg(target, said);
    return e;
}

} // namespace offload::detail::ssh
