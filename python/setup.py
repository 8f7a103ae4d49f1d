"""Builds and installs the ringbuf Python package.

    /usr/bin/python3 -m pip install --no-build-isolation ./python

The extension ringbuf._ringbuf is built by Bazel (//python:_ringbuf.so, via
the repository's ./bazelw, which installs the Debian packages it needs) with
the ringbuf library compiled in, against the headers of Debian's
/usr/bin/python3; so the interpreter installing it must be the same
CPython minor version (3.11 on Debian 12). See python/README.md.
"""

import os
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HEADERS_PYTHON = "/usr/bin/python3"  # third_party/python_headers.bzl


class BazelBuildExt(build_ext):
    """Builds the extension with Bazel and copies it into place."""

    def build_extension(self, ext):
        bazelw = os.path.join(ROOT, "bazelw")
        if not os.path.exists(bazelw):
            raise RuntimeError(
                "%s not found: build from a ringbuf checkout (pip install "
                "--no-build-isolation ./python, from its root)" % bazelw)
        theirs = subprocess.check_output(
            [HEADERS_PYTHON, "-c", "import sys; print(sys.version_info[:2])"],
            text=True).strip()
        ours = str(tuple(sys.version_info[:2]))
        if theirs != ours:
            raise RuntimeError(
                "the extension is built against %s (Python %s), but this is "
                "Python %s (%s): install with a Python %s" %
                (HEADERS_PYTHON, theirs, ours, sys.executable, theirs))
        subprocess.check_call([bazelw, "build", "//python:_ringbuf.so"], cwd=ROOT)
        bazel_bin = subprocess.check_output(
            [bazelw, "info", "bazel-bin"], cwd=ROOT, text=True).strip()
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(os.path.join(bazel_bin, "python", "_ringbuf.so"), target)


def version():
    with open(os.path.join(ROOT, "VERSION")) as f:
        return f.read().strip()


setup(
    name="ringbuf",
    version=version(),
    description="Bounded multi-producer, multi-consumer message queue in "
                "POSIX shared memory",
    packages=["ringbuf"],
    ext_modules=[Extension("ringbuf._ringbuf",
                           sources=["ringbuf/_ringbuf.c"])],
    cmdclass={"build_ext": BazelBuildExt},
    python_requires=">=3.11",
    zip_safe=False,
)
