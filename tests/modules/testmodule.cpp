// A misbehaving (or well-behaved) SEM module for the module tests. What it does depends on the
// name it is started as (tests symlink it): hang-module, garbage-module, banner-module,
// flaky-module (garbage on --xml until "<its path>.ok" exists), noreturn-module (declares a
// return parameter, writes no file), statdir-module (returns its return file's directory mode),
// chatty-module (a description on --xml, then 17 MiB more).
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>

#include <libgen.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {
const char description[] = R"(<?xml version="1.0" encoding="utf-8"?>
<executable>
  <title>Test Module</title>
  <parameters>
    <label>All</label>
    <description>Everything</description>
    <integer><name>level</name><longflag>level</longflag><label>Level</label><description>d</description><default>1</default></integer>
    <string><name>dirmode</name><label>Directory mode</label><channel>output</channel><description>d</description></string>
    <string><name>dir</name><label>Directory</label><channel>output</channel><description>d</description></string>
    <integer><name>answer</name><label>Answer</label><channel>output</channel><description>d</description></integer>
  </parameters>
</executable>
)";
}

int main(int argc, char **argv)
{
    std::string self = argv[0];
    const std::string name = ::basename(argv[0]);
    const bool xml = argc > 1 && std::strcmp(argv[1], "--xml") == 0;
    std::string returnFile;
    for (int i = 1; i + 1 < argc; ++i)
        if (std::strcmp(argv[i], "--returnparameterfile") == 0)
            returnFile = argv[i + 1];

    if (xml) {
        if (name == "hang-module") {
            std::this_thread::sleep_for(
                std::chrono::seconds(60)); // bounded: the runner kills it first
            return 0;
        }
        if (name == "garbage-module"
            || (name == "flaky-module" && ::access((self + ".ok").c_str(), F_OK) != 0)) {
            std::fputs("\x01\xff not a description <<< <executable", stdout);
            return 0;
        }
        if (name == "banner-module")
            std::fputs("Loading plugins...\nWARNING: no GPU found\n", stdout);
        std::fputs(description, stdout);
        if (name == "chatty-module") {
            static char line[1024];
            std::memset(line, '#', sizeof line - 1);
            line[sizeof line - 2] = '\n';
            for (int i = 0; i < 17 * 1024; ++i)
                std::fputs(line, stdout);
        }
        return 0;
    }
    if (name == "statdir-module" && !returnFile.empty()) {
        char buf[4096];
        std::strncpy(buf, returnFile.c_str(), sizeof buf - 1);
        buf[sizeof buf - 1] = 0;
        const char *dir = ::dirname(buf);
        struct stat st
        {
        };
        ::stat(dir, &st);
        if (FILE *f = std::fopen(returnFile.c_str(), "w")) {
            std::fprintf(
                f, "dirmode = %o\ndir = %s\nanswer = 42\n", unsigned(st.st_mode & 0777), dir);
            std::fclose(f);
        }
    }
    return 0; // noreturn-module and the others: no return file
}
