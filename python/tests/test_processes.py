"""ringbuf between processes: two Python processes, Python with C++
(python/tests/cpp_peer.cc) both ways, Ctrl-C during a blocking get, and a
Python producer killed mid-stream. Every wait is bounded (conftest.WAIT)."""

import multiprocessing
import os
import pickle
import signal
import struct
import subprocess
import time

import pytest

import ringbuf
from conftest import WAIT, finish, python_child


def peer_message(i):
    """Message(i) of cpp_peer.cc: binary, with a NUL and 0xff."""
    return b"m%d\x00\xff" % i + b"x" * (i % 7)


ECHO = """
import sys, ringbuf
with ringbuf.Queue.open(sys.argv[1]) as requests, \\
        ringbuf.Queue.open(sys.argv[2]) as replies:
    for _ in range(int(sys.argv[3])):
        replies.put(requests.get(timeout=30)[::-1], timeout=30)
"""


def test_round_trip_between_two_python_processes(qname):
    n = 500
    with ringbuf.Queue.create(qname, 8, 128) as requests, \
            ringbuf.Queue.create(qname + "-r", 8, 128) as replies:
        try:
            child = python_child(ECHO, qname, qname + "-r", n)
            got = []
            for i in range(n):
                requests.put(b"\x00%d\xff" % i, timeout=WAIT)
                got.append(replies.get(timeout=WAIT))
            code, _, err = finish(child)
            assert code == 0, err
            assert got == [(b"\x00%d\xff" % i)[::-1] for i in range(n)]
        finally:
            ringbuf.remove(qname + "-r")


def test_python_producer_cpp_consumer(qname, cpp_peer):
    n = 100
    with ringbuf.Queue.create(qname, 4, 64) as q:  # producer must wait
        child = subprocess.Popen([cpp_peer, "consume", qname, str(n)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(n):
            q.put(peer_message(i), timeout=WAIT)
        code, out, err = finish(child)
        assert code == 0, err
        got = []
        while out:
            (length,) = struct.unpack("<I", out[:4])
            got.append(out[4:4 + length])
            out = out[4 + length:]
        assert got == [peer_message(i) for i in range(n)]
        assert q.stats().depth == 0


def test_cpp_producer_python_consumer(qname, cpp_peer):
    n = 100
    with ringbuf.Queue.create(qname, 4, 64) as q:
        child = subprocess.Popen([cpp_peer, "produce", qname, str(n)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        got = [q.get(timeout=WAIT) for _ in range(n)]
        code, _, err = finish(child)
        assert code == 0, err
        assert got == [peer_message(i) for i in range(n)]


BLOCKED_GET = """
import sys, ringbuf
q = ringbuf.Queue.open(sys.argv[1])
print("ready", flush=True)
try:
    q.get()
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(3)
"""


def sleeping_in_kernel(pid):
    """True once every thread of `pid` sleeps (state S): the child's get is
    then blocked in the kernel, not about to enter it."""
    tasks = "/proc/%d/task" % pid
    try:
        states = []
        for tid in os.listdir(tasks):
            with open("%s/%s/stat" % (tasks, tid)) as f:
                states.append(f.read().rsplit(")", 1)[1].split()[0])
        return all(s == "S" for s in states)
    except OSError:
        return False


def test_ctrl_c_interrupts_a_blocking_get(qname):
    with ringbuf.Queue.create(qname, 4, 64):
        child = python_child(BLOCKED_GET, qname)
        assert child.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + WAIT
        while not sleeping_in_kernel(child.pid):
            assert time.monotonic() < deadline, "child never blocked"
            time.sleep(0.001)  # polling the child's state, not a wait-to-be-sure
        child.send_signal(signal.SIGINT)
        code, out, err = finish(child)
        assert code == 3, err
        assert out == b"interrupted\n"


PRODUCER = """
import sys, ringbuf
q = ringbuf.Queue.open(sys.argv[1])
print("ready", flush=True)
i = int(sys.argv[2])
while True:
    q.put(b"%08d" % i + b"\\x00" * 56)
    i += 1
"""


def test_a_killed_python_producer_does_not_wedge_the_queue(qname):
    with ringbuf.Queue.create(qname, 16, 64) as q:
        expected = 0
        for _ in range(5):
            child = python_child(PRODUCER, qname, expected)
            assert child.stdout.readline() == b"ready\n"
            # Consume some, so the producer is mid-stream, then kill it.
            for _ in range(50):
                m = q.get(timeout=WAIT)
                assert m == b"%08d" % expected + b"\x00" * 56
                expected += 1
            child.kill()
            finish(child)
            # Whatever it committed is intact and in order; nothing half-sent.
            while True:
                try:
                    m = q.get_nowait()
                except ringbuf.Empty:
                    break
                assert m == b"%08d" % expected + b"\x00" * 56
                expected += 1
        # Still usable by everyone: a send and a receive go through.
        q.put(b"after", timeout=WAIT)
        assert q.get(timeout=WAIT) == b"after"
        s = q.stats()
        assert s.depth == 0 and s.total_sent == s.total_received


def _spawned_consumer(q, n, results):
    results.put([q.get(timeout=WAIT) for _ in range(n)])


def test_a_pickled_handle_reopens_the_queue_in_a_spawned_process(qname):
    with ringbuf.Queue.create(qname, 8, 64) as q:
        again = pickle.loads(pickle.dumps(q))
        assert isinstance(again, ringbuf.Queue) and again.name == qname
        again.close()
        ctx = multiprocessing.get_context("spawn")
        results = ctx.Queue()
        child = ctx.Process(target=_spawned_consumer, args=(q, 3, results))
        child.start()
        q.put_many([b"a", b"\x00", b"c"], timeout=WAIT)
        assert results.get(timeout=WAIT) == [b"a", b"\x00", b"c"]
        child.join(WAIT)
        assert child.exitcode == 0
    with pytest.raises(ValueError, match="closed"):
        pickle.dumps(q)
