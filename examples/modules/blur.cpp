// blur: a Slicer Execution Model CLI module in plain C++ (no Slicer needed), used by the tests,
// the benchmarks and the `offload module` examples. Shows: --xml, SEM progress tags on stdout,
// and a --returnparameterfile with typed "name = value" lines.
#include "blur_xml.h" // kDescription: blur.xml, embedded at build time

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

int usage(const char *why)
{
    std::fprintf(stderr,
        "blur: %s\nusage: blur [--iterations N] [--sigma S] [--method gaussian|box] [--fail]"
        " [--returnparameterfile FILE] [--] SUMMARY.txt | --xml\n",
        why);
    return 2;
}

// One smoothing pass: a 5-tap kernel over a ring.
void smooth(std::vector<double> &signal, const double kernel[5])
{
    std::vector<double> out(signal.size());
    const size_t n = signal.size();
    for (size_t i = 0; i < n; ++i) {
        double acc = 0;
        for (int k = -2; k <= 2; ++k)
            acc += kernel[k + 2] * signal[(i + n + size_t(k)) % n];
        out[i] = acc;
    }
    signal.swap(out);
}

} // namespace

int main(int argc, char **argv)
{
    long iterations = 20;
    double sigma = 1.5;
    std::string method = "gaussian", returnFile, summary;
    bool fail = false;
    bool optionsEnded = false; // after "--" every argument is data, as TCLAP and argparse read it
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        if (optionsEnded) {
            summary = a;
            continue;
        }
        const auto value = [&]() -> const char * { return i + 1 < argc ? argv[++i] : nullptr; };
        if (a == "--xml") {
            std::fputs(kDescription, stdout);
            return 0;
        } else if (a == "--iterations" || a == "-n") {
            const char *v = value();
            if (!v || (iterations = std::strtol(v, nullptr, 10)) < 1)
                return usage("--iterations needs a positive integer");
        } else if (a == "--sigma") {
            const char *v = value();
            if (!v || (sigma = std::strtod(v, nullptr)) <= 0)
                return usage("--sigma needs a positive number");
        } else if (a == "--method") {
            const char *v = value();
            if (!v || (std::strcmp(v, "gaussian") != 0 && std::strcmp(v, "box") != 0))
                return usage("--method is gaussian or box");
            method = v;
        } else if (a == "--fail") {
            fail = true;
        } else if (a == "--returnparameterfile") {
            const char *v = value();
            if (!v)
                return usage("--returnparameterfile needs a file");
            returnFile = v;
        } else if (a == "--") {
            optionsEnded = true;
        } else if (!a.empty() && a[0] == '-') {
            return usage(("unknown option " + a).c_str());
        } else {
            summary = a;
        }
    }
    if (summary.empty())
        return usage("the summary file (index 0) is required");

    double kernel[5];
    double total = 0;
    for (int k = -2; k <= 2; ++k)
        total += kernel[k + 2] = method == "box" ? 1.0 : std::exp(-k * k / (2 * sigma * sigma));
    for (double &w : kernel)
        w /= total;

    std::printf("<filter-start>\n<filter-name>Synthetic Blur</filter-name>\n"
                "<filter-comment>\"%ld passes, %s kernel\"</filter-comment>\n</filter-start>\n",
        iterations, method.c_str());
    std::fflush(stdout);
    std::vector<double> signal(20000);
    for (size_t i = 0; i < signal.size(); ++i)
        signal[i] = double((i * 7919) % 1000) / 1000.0;
    for (long it = 1; it <= iterations; ++it) {
        smooth(signal, kernel);
        if (it % 5 == 0 || it == iterations) {
            std::printf(
                "<filter-progress>%.4f</filter-progress>\n", double(it) / double(iterations));
            std::fflush(stdout);
        }
    }
    double mean = 0;
    unsigned long long checksum = 0;
    for (double v : signal) {
        mean += v;
        checksum = checksum * 31 + static_cast<unsigned long long>(v * 1e6);
    }
    mean /= double(signal.size());
    checksum %= 1000000007ULL;

    if (FILE *f = std::fopen(summary.c_str(), "w")) {
        std::fprintf(f, "iterations %ld\nmean %.9f\nchecksum %llu\n", iterations, mean, checksum);
        std::fclose(f);
    } else {
        std::fprintf(stderr, "blur: cannot write %s\n", summary.c_str());
        return 1;
    }
    if (!returnFile.empty()) {
        if (FILE *f = std::fopen(returnFile.c_str(), "w")) {
            std::fprintf(f, "checksum = %llu\nmean = %.9f\nstatus = %s\n", checksum, mean,
                fail ? "failed on request" : "ok");
            std::fclose(f);
        }
    }
    std::printf("<filter-end>\n<filter-name>Synthetic "
                "Blur</filter-name>\n<filter-time>0</filter-time>\n</filter-end>\n");
    if (fail) {
        std::fprintf(stderr, "blur: failing on request (--fail)\n");
        return 3;
    }
    return 0;
}
