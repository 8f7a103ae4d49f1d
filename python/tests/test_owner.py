"""Whose queues ringbuf opens (ringbuf/trust.h), with two users: this root
process and a forked child that becomes `nobody` and squats a queue name
first, with mode 0666. By default root refuses that queue (PermissionError
naming its owner); naming the owner opens it. Skipped, with the reason,
unless this process is root and can become nobody: Bazel runs these in
//python:python_owner_test, unsandboxed (linux-sandbox maps uid 0 only, so
setuid fails there); .ci/run's Python step runs them as root too."""

import os
import pickle
import pwd
import select
import signal

import pytest

import ringbuf
from conftest import WAIT

pytestmark = pytest.mark.two_users


def _become(user):
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)


def _run_as(user, body):
    """Runs body() in a forked child that first becomes `user`; returns the
    child's exit code: body's result, 101 if it could not become the user,
    102 if body raised (printed). A child still running after WAIT is
    killed and fails the test."""
    pid = os.fork()
    if pid == 0:
        code = 102
        try:
            try:
                _become(user)
            except OSError as e:
                os.write(2, ("becoming %s: %s\n" % (user.pw_name, e)).encode())
                code = 101
            else:
                code = body()
        except BaseException as e:  # the child must never return into pytest
            os.write(2, ("child: %r\n" % (e,)).encode())
        finally:
            os._exit(code)
    pidfd = os.pidfd_open(pid)  # readable once the child has exited
    try:
        exited = select.select([pidfd], [], [], WAIT)[0]
    finally:
        os.close(pidfd)
    if not exited:
        os.kill(pid, signal.SIGKILL)
    status = os.waitpid(pid, 0)[1]
    if not exited:
        pytest.fail("the child as %s hung" % user.pw_name)
    return os.waitstatus_to_exitcode(status)


@pytest.fixture
def nobody():
    """The user `nobody`, if this process can become it; else skips."""
    if os.geteuid() != 0:
        pytest.skip("this two-user test acts as root and as `nobody` (setuid "
                    "in a forked child), which takes root; running as uid %d"
                    % os.geteuid())
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("this two-user test needs the user `nobody`, which this "
                    "system lacks")
    code = _run_as(user, lambda: 0)
    if code != 0:
        pytest.skip("this two-user test cannot become `nobody` here (setuid "
                    "failed): a sandbox's user namespace maps root only; run "
                    "it unsandboxed (tags = [\"no-sandbox\"])")
    return user


@pytest.fixture
def squatted(qname, nobody):
    """qname, created first by nobody with mode 0666, holding b"planted"."""
    def squat():
        with ringbuf.Queue.create(qname, 4, 32, mode=0o666) as q:
            q.put_nowait(b"planted")
        return 0
    assert _run_as(nobody, squat) == 0, "nobody could not create the queue"
    assert os.stat("/dev/shm" + qname).st_uid == nobody.pw_uid
    return qname


def test_a_squatted_queue_is_a_permission_error_naming_its_owner(
        squatted, nobody):
    owner = "%s (uid %d)" % (nobody.pw_name, nobody.pw_uid)
    for attempt in (lambda: ringbuf.Queue.open(squatted),
                    lambda: ringbuf.Queue.open_or_create(squatted, 4, 32),
                    lambda: ringbuf.remove(squatted),
                    lambda: ringbuf.remove(squatted, owner="root")):
        with pytest.raises(PermissionError) as caught:
            attempt()
        assert isinstance(caught.value, ringbuf.AccessDenied)
        assert caught.value.code_name == "PERMISSION_DENIED"
        message = str(caught.value)
        assert squatted in message and owner in message, message
        assert "0666" in message, message  # the mode any user may write
    assert os.path.exists("/dev/shm" + squatted), "nothing was removed"


def test_naming_the_owner_opens_it(squatted, nobody):
    with ringbuf.Queue.open(squatted, owner="nobody") as q:
        assert q.get_nowait() == b"planted"
        q.put(b"round trip")
        assert q.get(timeout=WAIT) == b"round trip"
        # A pickled handle (multiprocessing "spawn") reopens trusting the
        # same owner.
        again = pickle.loads(pickle.dumps(q))
        again.put(b"via the copy")
        assert q.get_nowait() == b"via the copy"
        again.close()
    for owner in (nobody.pw_uid, str(nobody.pw_uid), "any"):
        with ringbuf.Queue.open(squatted, owner=owner) as q:
            assert q.capacity == 4
        with ringbuf.Queue.open_or_create(squatted, 4, 32, owner=owner) as q:
            assert q.slot_size == 32


def test_naming_the_owner_removes_it(squatted, nobody):
    ringbuf.remove(squatted, owner=nobody.pw_name)
    with pytest.raises(ringbuf.QueueNotFound):
        ringbuf.Queue.open(squatted, owner="any")
