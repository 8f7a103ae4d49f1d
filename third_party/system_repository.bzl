"""A repository over a library installed by the system's packages (Debian).

system_repository() makes a repository whose `include/` is /usr/include and
whose `lib/` is the directory holding the library's files on this machine,
and whose BUILD file is `build_file`. Debian puts libraries in a multiarch
directory (/usr/lib/x86_64-linux-gnu, /usr/lib/aarch64-linux-gnu, ...), so
that directory is asked of the system, never assumed:

  1. `dpkg-architecture -qDEB_HOST_MULTIARCH`, else `$CC -print-multiarch`
     (gcc and clang both answer), giving /usr/lib/<triplet>;
  2. then /usr/lib64 and /usr/lib (other distributions);
  3. then any /usr/lib/* directory.

The first that holds `marker` (a file name such as "libabsl_base.so") wins;
a header-only library (no `marker`) gets no `lib/`.
With `optional = True` a missing library is not an error: the BUILD file
sees FOUND = False (substituted for %{found}) and should then declare
targets that build without it. Nothing is downloaded.
"""

def _run(rctx, argv):
    result = rctx.execute(argv, quiet = True)
    if result.return_code != 0:
        return ""
    return result.stdout.strip()

def _candidate_dirs(rctx):
    dirs = []
    for argv in [
        ["dpkg-architecture", "-qDEB_HOST_MULTIARCH"],
        [rctx.os.environ.get("CC", "gcc"), "-print-multiarch"],
    ]:
        triplet = _run(rctx, argv)
        if triplet and "/" not in triplet:
            dirs.append("/usr/lib/" + triplet)
    dirs += ["/usr/lib64", "/usr/lib"]
    usr_lib = rctx.path("/usr/lib")
    if usr_lib.exists:
        dirs += [str(child) for child in usr_lib.readdir()]
    return dirs

def _system_repository_impl(rctx):
    lib_dir = None
    if rctx.attr.marker:
        for candidate in _candidate_dirs(rctx):
            if rctx.path(candidate + "/" + rctx.attr.marker).exists:
                lib_dir = candidate
                break
    include_ok = all([
        rctx.path("/usr/include/" + header).exists
        for header in rctx.attr.headers
    ])
    found = include_ok and (lib_dir != None or not rctx.attr.marker)
    if not found and not rctx.attr.optional:
        fail(("@{name}: not found: /usr/include/{headers}{marker} (looked " +
              "in the multiarch library directory, /usr/lib64, /usr/lib); " +
              "install {package} (./bazelw does this on Debian)").format(
            name = rctx.name,
            headers = ", /usr/include/".join(rctx.attr.headers),
            marker = " or " + rctx.attr.marker if rctx.attr.marker else "",
            package = rctx.attr.package,
        ))
    if found:
        rctx.symlink("/usr/include", "include")
        if lib_dir:
            rctx.symlink(lib_dir, "lib")
    rctx.template(
        "BUILD.bazel",
        rctx.attr.build_file,
        substitutions = {"%{found}": "True" if found else "False"},
        executable = False,
    )
    rctx.file(
        "WORKSPACE",
        "workspace(name = \"%s\")\n" % rctx.name,
        executable = False,
    )

system_repository = repository_rule(
    implementation = _system_repository_impl,
    attrs = {
        "build_file": attr.label(mandatory = True, allow_single_file = True),
        "marker": attr.string(
            doc = "A file of the library that must be in its lib directory " +
                  "(none for a header-only library).",
        ),
        "headers": attr.string_list(
            doc = "Paths under /usr/include that must exist.",
        ),
        "package": attr.string(
            mandatory = True,
            doc = "What to install when it is missing (Debian's name).",
        ),
        "optional": attr.bool(default = False),
    },
    environ = ["CC"],
    local = True,
)

def _stand_in_repository_impl(rctx):
    # A copy (by symlinks) of a directory of the ringbuf repository, found
    # through one of its files, so that this works wherever ringbuf lives,
    # as the main repository or as an external one.
    src = rctx.path(rctx.attr.anchor).dirname
    for child in src.readdir():
        rctx.symlink(child, child.basename)

stand_in_repository = repository_rule(
    implementation = _stand_in_repository_impl,
    attrs = {
        "anchor": attr.label(
            mandatory = True,
            allow_single_file = True,
            doc = "The WORKSPACE file of the directory to expose.",
        ),
    },
)
