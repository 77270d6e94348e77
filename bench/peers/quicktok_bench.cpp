// Times quicktok (a C++ exact tiktoken-compatible tokenizer, built outside the
// repository) on one text file with the same documents, warm-up, checksum and
// output line as build/bench/bench_tokenize and bench/peers/npm_peer.js:
//
//   result impl=quicktok version=- encoding=cl100k_base file=english.txt
//          bytes=N docs=N tokens=N idsum=XXXXXXXX runs=5 median_s=S mb_s=M
//
// Each pass is timed by the wall clock (median_s, mb_s) and by this process's
// CPU time (cpu_s, cpu_mb_s), as in bench_tokenize.
// Documents: at most --chunk bytes, cut after the last '\n' in the window
// (else at a UTF-8 boundary); --chunk 0 = the whole file is one document.
// --threads N (N >= 1) times quicktok's own encode_batch over all documents
// on N threads instead of a single-thread loop of encode calls.
//
// bench/run.sh compiles this against $QUICKTOK_DIR (include/ + build/
// libquicktok.a) and passes --data $QUICKTOK_DIR/data.
//
// usage: quicktok_bench --data DIR --encoding NAME --file F [--runs 5]
//                       [--chunk 65536] [--threads N]
#include <quicktok.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <time.h>

static void usage(const char *msg) {
    std::fprintf(stderr, "quicktok_bench: %s\n", msg);
    std::exit(2);
}

static double now_s() {
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

static double cpu_s() { // this process's CPU time: robust to other jobs' load
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t fold(uint32_t h, const uint32_t *ids, size_t n) {
    for (size_t i = 0; i < n; i++) h = (h ^ ids[i]) * 16777619u;
    return h;
}

int main(int argc, char **argv) {
    const char *data = nullptr, *encoding = nullptr, *file = nullptr;
    long runs = 5, chunk = 65536, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage("every option takes a value");
        const char *k = argv[i], *v = argv[++i];
        if (!std::strcmp(k, "--data")) data = v;
        else if (!std::strcmp(k, "--encoding")) encoding = v;
        else if (!std::strcmp(k, "--file")) file = v;
        else if (!std::strcmp(k, "--runs")) runs = std::atol(v);
        else if (!std::strcmp(k, "--chunk")) chunk = std::atol(v);
        else if (!std::strcmp(k, "--threads")) threads = std::atol(v);
        else usage("unknown option");
    }
    if (!data || !encoding || !file || runs < 1 || chunk < 0 || threads < 0)
        usage("needs --data DIR --encoding NAME --file F [--runs N>=1] [--chunk N] [--threads N]");

    std::ifstream in(file, std::ios::binary);
    if (!in) usage("cannot read the --file");
    std::string buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());

    std::vector<std::string_view> docs;
    for (size_t start = 0; start < buf.size();) {
        size_t end = chunk == 0 ? buf.size() : std::min(buf.size(), start + (size_t)chunk);
        if (end < buf.size()) {
            size_t nl = buf.rfind('\n', end - 1);
            if (nl != std::string::npos && nl >= start) end = nl + 1;
            else
                while (end > start + 1 && ((unsigned char)buf[end] & 0xC0) == 0x80) end--;
        }
        docs.emplace_back(buf.data() + start, end - start);
        start = end;
    }

    try {
        auto tok = quicktok::Tokenizer::load_dir(data, encoding);

        // Untimed pass: the checksum that run.sh compares across tokenizers.
        uint32_t idsum = 2166136261u;
        size_t tokens = 0;
        std::vector<uint32_t> ids;
        double first_c0 = cpu_s(); // the cold figure: nothing is cached yet
        for (auto d : docs) {
            ids.clear();
            tok.encode((const uint8_t *)d.data(), d.size(), ids);
            idsum = fold(idsum, ids.data(), ids.size());
            tokens += ids.size();
        }

        double first_cpu = cpu_s() - first_c0;
        auto pass = [&](size_t ndocs) -> size_t {
            size_t n = 0;
            if (threads > 0) {
                std::vector<std::string_view> part(docs.begin(), docs.begin() + ndocs);
                for (auto &v : tok.encode_batch(part, (unsigned)threads)) n += v.size();
            } else {
                for (size_t i = 0; i < ndocs; i++) {
                    ids.clear();
                    tok.encode((const uint8_t *)docs[i].data(), docs[i].size(), ids);
                    n += ids.size();
                }
            }
            return n;
        };
        size_t warm = 0, wbytes = 0;
        while (warm < docs.size() && wbytes < 1000000) wbytes += docs[warm++].size();
        pass(warm);

        std::vector<double> times, cpu;
        for (long r = 0; r < runs; r++) {
            double t0 = now_s(), c0 = cpu_s();
            size_t n = pass(docs.size());
            times.push_back(now_s() - t0);
            cpu.push_back(cpu_s() - c0);
            if (n != tokens) usage("a timed pass gave a different token count");
        }
        std::sort(times.begin(), times.end());
        std::sort(cpu.begin(), cpu.end());
        double med = times[times.size() / 2], cmed = cpu[cpu.size() / 2];
        const char *base = std::strrchr(file, '/');
        std::printf("result impl=quicktok version=- encoding=%s file=%s bytes=%zu docs=%zu tokens=%zu "
                    "idsum=%08x runs=%ld threads=%ld median_s=%.6f mb_s=%.2f cpu_s=%.6f cpu_mb_s=%.2f first_cpu_mb_s=%.2f\n",
                    encoding, base ? base + 1 : file, buf.size(), docs.size(), tokens, idsum, runs,
                    threads > 0 ? threads : 1, med, buf.size() / 1e6 / med, cmed, buf.size() / 1e6 / cmed,
                    buf.size() / 1e6 / first_cpu);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "quicktok_bench: %s\n", e.what());
        return 1;
    }
    return 0;
}
