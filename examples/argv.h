// The examples' command lines: "--key=value" (or a bare "--key" for a
// switch), read into a small options struct by each program. Flags proper
// (absl) belong to the CLI only (/work/shared/STYLE.md); an example stays a
// plain main() a reader can copy.
#ifndef RINGBUF_EXAMPLES_ARGV_H_
#define RINGBUF_EXAMPLES_ARGV_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace examples {

class Argv {
 public:
  // InvalidArgument for an argument that is not "--key[=value]", or a key
  // given twice.
  absl::Status Parse(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
      absl::string_view arg = argv[i];
      if (arg.size() < 3 || arg.substr(0, 2) != "--") {
        return absl::InvalidArgumentError(
            absl::StrCat("unexpected argument '", arg, "'"));
      }
      arg.remove_prefix(2);
      const size_t eq = arg.find('=');
      std::string key(arg.substr(0, eq));
      std::string value(eq == absl::string_view::npos ? "" : arg.substr(eq + 1));
      if (!values_.emplace(key, value).second) {
        return absl::InvalidArgumentError(absl::StrCat("--", key, " given twice"));
      }
    }
    return absl::OkStatus();
  }

  // Each reads `key` into *out if it was given (else leaves the default) and
  // marks it used; InvalidArgument naming the flag for a bad value.
  absl::Status Read(const std::string& key, std::string* out) {
    if (const std::string* v = Take(key)) *out = *v;
    return absl::OkStatus();
  }
  absl::Status Read(const std::string& key, int64_t* out) {
    const std::string* v = Take(key);
    if (v != nullptr && !absl::SimpleAtoi(*v, out)) return Bad(key, *v);
    return absl::OkStatus();
  }
  absl::Status Read(const std::string& key, absl::Duration* out) {
    const std::string* v = Take(key);
    if (v != nullptr && !absl::ParseDuration(*v, out)) return Bad(key, *v);
    return absl::OkStatus();
  }
  absl::Status Read(const std::string& key, bool* out) {
    const std::string* v = Take(key);
    if (v == nullptr) return absl::OkStatus();
    if (v->empty() || *v == "true") {
      *out = true;
    } else if (*v == "false") {
      *out = false;
    } else {
      return Bad(key, *v);
    }
    return absl::OkStatus();
  }

  // InvalidArgument naming the first key given that no Read asked for.
  absl::Status CheckAllUsed() const {
    for (const auto& [key, value] : values_) {
      if (used_.count(key) == 0) {
        return absl::InvalidArgumentError(absl::StrCat("unknown flag --", key));
      }
    }
    return absl::OkStatus();
  }

 private:
  const std::string* Take(const std::string& key) {
    used_.emplace(key, true);
    auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
  }
  static absl::Status Bad(const std::string& key, const std::string& value) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", key, "='", value, "' is not a valid value"));
  }

  std::map<std::string, std::string> values_;
  std::map<std::string, bool> used_;
};

}  // namespace examples

#endif  // RINGBUF_EXAMPLES_ARGV_H_
