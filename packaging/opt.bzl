"""opt_files: the given targets' files, built with -c opt.

//:install ships what it installs optimized whatever the command line's
compilation mode (`bazel run //:install` is fastbuild, -O0, by default), so
the one documented command installs release binaries.
"""

def _opt_transition_impl(settings, attr):
    return {"//command_line_option:compilation_mode": "opt"}

_opt_transition = transition(
    implementation = _opt_transition_impl,
    inputs = [],
    outputs = ["//command_line_option:compilation_mode"],
)

def _opt_files_impl(ctx):
    files = depset(transitive = [dep[DefaultInfo].files for dep in ctx.attr.srcs])
    return [DefaultInfo(
        files = files,
        runfiles = ctx.runfiles(transitive_files = files),
    )]

opt_files = rule(
    implementation = _opt_files_impl,
    attrs = {
        "srcs": attr.label_list(cfg = _opt_transition, allow_files = True),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/function_transition_allowlist",
        ),
    },
)
