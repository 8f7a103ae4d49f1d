"""@python_headers: the C headers of Debian's /usr/bin/python3 (python3-dev),
for the CPython extension of //python. Found by asking that interpreter, so
the rule follows the Debian release's Python version; nothing is fetched."""

_BUILD = """
cc_library(
    name = "python_headers",
    hdrs = glob(["include/**/*.h"]),
    includes = ["include"],
    visibility = ["//visibility:public"],
)
"""

def _python_headers_impl(ctx):
    python = ctx.attr.interpreter
    result = ctx.execute([
        python,
        "-c",
        "import sysconfig; print(sysconfig.get_paths()['include'])",
    ])
    if result.return_code != 0:
        fail("%s cannot report its include directory: %s" % (python, result.stderr))
    include = result.stdout.strip()
    if not ctx.path(include + "/Python.h").exists:
        fail("%s/Python.h is missing: install python3-dev" % include)
    ctx.symlink(include, "include")
    ctx.file("BUILD.bazel", _BUILD)

python_headers = repository_rule(
    implementation = _python_headers_impl,
    attrs = {"interpreter": attr.string(default = "/usr/bin/python3")},
    local = True,
)
