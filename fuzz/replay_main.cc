// A main() for LLVMFuzzerTestOneInput without libFuzzer, so the fuzz target
// builds with any compiler and its corpus runs in the normal test suite.
//
//   replay [--mutations=N] [--seed=S] PATH...
//
// Runs the fuzz target once on every file named (directories: every file in
// them), then N deterministic random mutations of each (byte flips, byte
// overwrites with interesting values, truncation, growth), seeded by S.
// Exits non-zero if no input was given; a property violation aborts, as
// under libFuzzer.
#include <dirent.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

void CollectFiles(const std::string& path, std::vector<std::string>* out) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    std::fprintf(stderr, "replay: cannot stat %s\n", path.c_str());
    std::exit(2);
  }
  if (!S_ISDIR(st.st_mode)) {
    out->push_back(path);
    return;
  }
  DIR* dir = opendir(path.c_str());
  if (dir == nullptr) return;
  while (dirent* e = readdir(dir)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    CollectFiles(path + "/" + name, out);
  }
  closedir(dir);
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

// One cheap mutation, in the spirit of libFuzzer's simplest mutators.
void Mutate(std::mt19937_64& rng, std::vector<uint8_t>* data) {
  static constexpr uint8_t kInteresting[] = {0x00, 0x01, 0x7f, 0x80, 0xff,
                                             0x40, 0x10, 0x20, 0x90, 0x91};
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  switch (pick(4)) {
    case 0:
      if (!data->empty()) (*data)[pick(data->size())] ^= 1u << pick(8);
      break;
    case 1:
      if (!data->empty()) {
        (*data)[pick(data->size())] = kInteresting[pick(sizeof(kInteresting))];
      }
      break;
    case 2:
      if (!data->empty()) data->resize(pick(data->size()));
      break;
    case 3:
      for (size_t i = pick(8); i > 0; --i) {
        data->push_back(static_cast<uint8_t>(rng()));
      }
      break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  long mutations = 0;
  uint64_t seed = 1;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (absl::ConsumePrefix(&arg, "--mutations=")) {
      if (!absl::SimpleAtoi(arg, &mutations)) return 2;
    } else if (absl::ConsumePrefix(&arg, "--seed=")) {
      if (!absl::SimpleAtoi(arg, &seed)) return 2;
    } else {
      CollectFiles(argv[i], &files);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "replay: no inputs given\n");
    return 2;
  }
  std::mt19937_64 rng(seed);
  long runs = 0;
  for (const std::string& path : files) {
    const std::vector<uint8_t> original = ReadFile(path);
    LLVMFuzzerTestOneInput(original.data(), original.size());
    ++runs;
    std::vector<uint8_t> data = original;
    for (long m = 0; m < mutations; ++m) {
      if (m % 8 == 0) data = original;  // short chains from the seed
      Mutate(rng, &data);
      LLVMFuzzerTestOneInput(data.data(), data.size());
      ++runs;
    }
  }
  std::printf("replay: %zu files, %ld inputs ran, no property violated\n",
              files.size(), runs);
  return 0;
}
