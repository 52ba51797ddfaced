// In-tree child program for the program-runner tests: prints progress in the formats real
// command-line modules use, or misbehaves on request.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include <cerrno>

#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {
void sleepMs(int ms)
{
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}
} // namespace

int main(int argc, char **argv)
{
    const std::string mode = argc > 1 ? argv[1] : "";
    if (mode == "sem") { // a SEM module: header, progress, a result, ordinary text between
        std::printf("<filter-start>\n  <filter-name>TestFilter</filter-name>\n"
                    "  <filter-comment>\"Counting\"</filter-comment>\n</filter-start>\n");
        for (int i = 1; i <= 10; ++i) {
            std::printf("step %d\n<filter-progress>%.1f</filter-progress>\n", i, i / 10.0);
            std::fflush(stdout);
            sleepMs(2);
        }
        std::printf("<filter-result "
                    "name=\"count\">10</filter-result>\n<filter-end><filter-time>0.02</"
                    "filter-time></filter-end>\n");
        return 0;
    }
    if (mode == "lines") {
        std::printf("hello\nPROGRESS 0.5\nPROGRESS 1\nCOMPLETE\n{\"answer\": 42}\n");
        return 0;
    }
    if (mode == "badjson") {
        std::printf("COMPLETE\nthis is not json\n");
        return 0;
    }
    if (mode == "raw") { // all of stdin, reversed, to stdout
        std::string in;
        char buf[4096];
        ssize_t n;
        while ((n = ::read(0, buf, sizeof buf)) > 0)
            in.append(buf, size_t(n));
        for (auto it = in.rbegin(); it != in.rend(); ++it)
            std::putchar(*it);
        return 0;
    }
    if (mode == "exit") {
        std::fprintf(stderr, "something went wrong\n");
        return argc > 2 ? std::atoi(argv[2]) : 1;
    }
    if (mode == "crash") {
        std::signal(SIGSEGV, SIG_DFL);
        std::raise(SIGSEGV);
    }
    if (mode == "flood") { // megabytes without a newline
        const int mib = argc > 2 ? std::atoi(argv[2]) : 100;
        std::string chunk(1 << 20, 'x');
        for (int i = 0; i < mib; ++i)
            std::fwrite(chunk.data(), 1, chunk.size(), stdout);
        return 0;
    }
    if (mode == "grandchild") { // the work runs in a grandchild that prints progress forever
        const pid_t child = ::fork();
        if (child == 0) {
            for (int i = 0;; ++i) {
                std::printf("<filter-progress>%.3f</filter-progress>\n", (i % 1000) / 1000.0);
                std::fflush(stdout);
                sleepMs(5);
            }
        }
        std::fprintf(stderr, "grandchild %d\n", int(child));
        std::fflush(stderr);
        sleepMs(60'000);
        return 0;
    }
    if (mode == "badutf8") { // invalid UTF-8 in tags, in ordinary text and on stderr
        std::printf("<filter-start><filter-name>Bad\xff Name</filter-name>"
                    "<filter-comment>\"caf\xc3\x28\"</filter-comment></filter-start>\n");
        std::printf(
            "text \xff\xfe with \xc3 broken bytes\n<filter-progress>0.5</filter-progress>\n");
        std::printf("<filter-result name=\"r\xff\">v\xfe</filter-result>\n");
        std::fprintf(stderr, "\xff err\n");
        return 0;
    }
    if (mode == "escape") { // a grandchild that leaves the process group and session, twice forked
        const pid_t child = ::fork();
        if (child == 0) {
            ::setsid();
            if (::fork() != 0)
                std::_Exit(0); // the grandchild is orphaned
            std::printf("escaped %d\n", int(::getpid()));
            std::fflush(stdout);
            ::close(1); // keeps no pipe of ours open: only the tree kill can reach it
            ::close(2);
            sleepMs(60'000);
            std::_Exit(0);
        }
        ::waitpid(child, nullptr, 0);
        sleepMs(argc > 2 ? std::atoi(argv[2]) : 60'000);
        return 0;
    }
    if (mode == "return") { // SEM --returnparameterfile FILE, replaced by something hostile
        const std::string how = argc > 2 ? argv[2] : "";
        const char *file = argc > 4 ? argv[4] : "";
        if (how == "fifo")
            ::mkfifo(file, 0600);
        else if (how == "symlink") [[maybe_unused]]
            int r = ::symlink("/etc/hostname", file);
        else if (how == "big") {
            FILE *f = std::fopen(file, "w");
            std::string line(1 << 20, 'x');
            for (int i = 0; i < 17 && f; ++i)
                std::fwrite(line.data(), 1, line.size(), f);
            if (f)
                std::fclose(f);
        } else if (how == "dirswap") { // our directory becomes a link to one with a file to take
            const std::string dir = std::string(file).substr(0, std::string(file).rfind('/'));
            const std::string victim = dir + ".victim";
            ::mkdir(victim.c_str(), 0700);
            if (FILE *f = std::fopen((victim + "/returnparameters.txt").c_str(), "w")) {
                std::fputs("answer = 7\n", f);
                std::fclose(f);
            }
            ::rmdir(dir.c_str());
            [[maybe_unused]] int r = ::symlink(victim.c_str(), dir.c_str());
            std::printf("victim %s\n", victim.c_str());
        }
        return 0;
    }
    if (mode == "priority") { // its nice value, then its scheduling group's line, if any
        errno = 0;
        std::printf("nice %d\n", ::getpriority(PRIO_PROCESS, 0));
        if (FILE *f = std::fopen("/proc/self/autogroup", "r")) {
            char line[128] = {};
            if (std::fgets(line, sizeof line, f))
                std::printf("autogroup %s", line);
            std::fclose(f);
        }
        return 0;
    }
    if (mode == "sleep") {
        sleepMs(argc > 2 ? std::atoi(argv[2]) : 60'000);
        return 0;
    }
    if (mode == "hog") { // MIB of resident memory, then CPU time until killed
        const size_t bytes = size_t(argc > 2 ? std::atoi(argv[2]) : 64) << 20;
        auto *p = static_cast<volatile char *>(std::malloc(bytes));
        for (size_t i = 0; i < bytes; i += 4096)
            p[i] = char(i);
        std::printf("resident\n");
        std::fflush(stdout);
        for (unsigned long n = 0;; ++n)
            p[n % bytes] = char(n);
    }
    std::fprintf(stderr,
        "usage: testprogram sem|lines|badjson|badutf8|raw|exit N|crash|flood MIB|grandchild|"
        "escape [MS]|return fifo|symlink|big --returnparameterfile FILE|sleep MS|hog MIB\n");
    return 2;
}
