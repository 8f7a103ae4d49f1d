"""Everything a workspace needs to build @ringbuf, offline, in one call.

In your WORKSPACE (this repository's own WORKSPACE does the same):

    local_repository(name = "ringbuf", path = "/path/to/ringbuf")
    load("@ringbuf//:deps.bzl", "ringbuf_dependencies")
    ringbuf_dependencies()

then depend on "@ringbuf//ringbuf" (C++) or "@ringbuf//ringbuf:c_api" (C).
It declares, unless the workspace already has them (declare yours first to
use your own):
  * rules_cc, rules_java, remote_coverage_tools: offline stand-ins for the
    repositories Bazel 4.2.3 would otherwise download (see their BUILD files);
  * com_google_absl, com_google_googletest, com_google_benchmark: Debian's
    libabsl-dev, libgtest-dev/libgmock-dev, libbenchmark-dev, found in the
    machine's multiarch library directory (third_party/system_repository.bzl);
  * boost: Debian's libboost-dev headers if installed (only the benchmarks'
    Boost.Interprocess peer uses them, and builds without them).
Nothing is downloaded.
"""

load(
    "//third_party:system_repository.bzl",
    "stand_in_repository",
    "system_repository",
)

# Labels are Label()s, so that they name this repository's files whichever
# workspace calls ringbuf_dependencies().
def _maybe(rule, name, **kwargs):
    if name not in native.existing_rules():
        rule(name = name, **kwargs)

def ringbuf_dependencies():
    """Declares the repositories @ringbuf depends on (see above)."""

    # Loaded by @bazel_tools//tools/cpp:BUILD as soon as any cc target is
    # analysed; by @bazel_tools//tools/jdk:BUILD (registered toolchains); and
    # the implicit coverage tools of every test rule. Declared before Bazel's
    # WORKSPACE suffix, they win over its downloads.
    for name in ["rules_cc", "rules_java", "remote_coverage_tools"]:
        _maybe(
            stand_in_repository,
            name = name,
            anchor = Label("//third_party/%s:WORKSPACE" % name),
        )

    _maybe(
        system_repository,
        name = "com_google_absl",
        build_file = Label("//third_party:absl.BUILD"),
        marker = "libabsl_base.so",
        headers = ["absl/base/config.h"],
        package = "libabsl-dev",
    )
    _maybe(
        system_repository,
        name = "com_google_googletest",
        build_file = Label("//third_party:googletest.BUILD"),
        marker = "libgtest.a",
        headers = ["gtest/gtest.h", "gmock/gmock.h"],
        package = "libgtest-dev libgmock-dev",
    )
    _maybe(
        system_repository,
        name = "com_google_benchmark",
        build_file = Label("//third_party:benchmark.BUILD"),
        marker = "libbenchmark.so",
        headers = ["benchmark/benchmark.h"],
        package = "libbenchmark-dev",
    )
    _maybe(
        system_repository,
        name = "boost",
        build_file = Label("//third_party:boost.BUILD"),
        headers = ["boost/interprocess/ipc/message_queue.hpp"],
        package = "libboost-dev",
        optional = True,
    )
