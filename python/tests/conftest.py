"""Fixtures of the ringbuf Python tests: a unique queue name per test,
removed before and after, and the helpers for child processes. Every wait in
these tests is bounded (WAIT seconds catches hangs only)."""

import os
import re
import subprocess
import sys
import uuid

import pytest

import ringbuf

# Generous bound for anything that must happen "promptly": catches hangs.
WAIT = 30.0


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "two_users: acts as root and as `nobody` (test_owner.py); Bazel runs "
        "these unsandboxed in //python:python_owner_test")


def _remove(name):
    try:
        ringbuf.remove(name, owner="any")  # whoever made it in the test
    except ringbuf.QueueNotFound:
        pass


@pytest.fixture
def qname(request):
    """A queue name unique to this process and test; removed around it."""
    test = re.sub(r"[^A-Za-z0-9_.-]", "_", request.node.name)[:120]
    name = "/rbt-py-%d-%s-%s" % (os.getpid(), uuid.uuid4().hex[:8], test)
    _remove(name)
    yield name
    _remove(name)


@pytest.fixture
def cpp_peer():
    """The C++ peer program (python/tests/cpp_peer.cc), which Bazel builds
    and run_pytest.sh passes in RINGBUF_CPP_PEER."""
    path = os.environ.get("RINGBUF_CPP_PEER")
    if not path:
        pytest.skip("RINGBUF_CPP_PEER is not set (run through bazel test "
                    "//python:python_test)")
    return path


def python_child(code, *args, **kwargs):
    """Starts `python3 -c code args...` with this interpreter and this
    ringbuf package; stdout and stderr are pipes."""
    env = dict(os.environ)
    package_root = os.path.dirname(os.path.dirname(ringbuf.__file__))
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, env.get("PYTHONPATH")) if p)
    return subprocess.Popen(
        [sys.executable, "-c", code] + [str(a) for a in args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, **kwargs)


def finish(child, timeout=WAIT):
    """Waits for `child` (killing it after `timeout`); returns (returncode,
    stdout, stderr)."""
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
        pytest.fail("child hung; stderr: %r" % err)
    return child.returncode, out, err
