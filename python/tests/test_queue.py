"""ringbuf.Queue in one process: opening, the queue-module names and
exceptions, timeouts, batches, peek, stats, close, threads, selectors and
asyncio. Timing checks only that a call did not return early, or did return
within a bound that catches hangs."""

import array
import asyncio
import contextlib
import dataclasses
import getpass
import os
import queue
import selectors
import threading
import time

import pytest

import ringbuf
from conftest import WAIT


@pytest.fixture
def q(qname):
    with ringbuf.Queue.create(qname, 4, 64) as handle:
        yield handle


# ---- Opening and removing -------------------------------------------------

def test_create_open_open_or_create_reach_one_queue(qname):
    with ringbuf.Queue.create(qname, 8, 32, mode=0o600) as a, \
            ringbuf.Queue.open(qname) as b, \
            ringbuf.Queue.open_or_create(qname, 8, 32) as c:
        a.put(b"x")
        assert b.stats().depth == 1
        assert c.get_nowait() == b"x"
        assert (c.name, c.capacity, c.slot_size) == (qname, 8, 32)
        assert isinstance(c, ringbuf.Queue)


def test_names_without_slash_are_the_same_queue(qname):
    with ringbuf.Queue.create(qname, 2, 8) as a, \
            ringbuf.Queue.open(qname.lstrip("/")) as b:
        assert b.name == qname
        a.put(b"1")
        assert b.get_nowait() == b"1"


def test_open_errors_are_specific_and_name_the_queue(qname):
    with pytest.raises(ringbuf.QueueNotFound) as e:
        ringbuf.Queue.open(qname)
    assert isinstance(e.value, FileNotFoundError)
    assert qname in str(e.value) and e.value.code_name == "NOT_FOUND"
    with pytest.raises(ringbuf.QueueNotFound):
        ringbuf.remove(qname)
    with ringbuf.Queue.create(qname, 2, 8):
        with pytest.raises(FileExistsError):
            ringbuf.Queue.create(qname, 2, 8)
        with pytest.raises(ringbuf.IncompatibleQueue, match="capacity|slot"):
            ringbuf.Queue.open_or_create(qname, 3, 8)
    with pytest.raises(ValueError):
        ringbuf.Queue.create(qname, 0, 8)  # capacity out of range
    with pytest.raises(ValueError):
        ringbuf.Queue.create("a/b", 2, 8)  # bad name
    with pytest.raises(TypeError):
        ringbuf.Queue()


def test_mode_is_applied(qname):
    with ringbuf.Queue.create(qname, 2, 8, mode=0o640):
        assert os.stat("/dev/shm" + qname).st_mode & 0o777 == 0o640


def test_remove_unlinks_but_the_handle_keeps_working(qname, q):
    ringbuf.remove(qname)
    q.put(b"still")
    assert q.get() == b"still"
    with pytest.raises(ringbuf.QueueNotFound):
        ringbuf.Queue.open(qname)


def test_owner_keyword(qname, q):
    # Every spelling of an owner that includes this process's own queue.
    # Other users' queues: test_owner.py.
    me = getpass.getuser()
    for owner in (None, "any", me, os.geteuid(), str(os.geteuid())):
        with ringbuf.Queue.open(qname, owner=owner) as same:
            q.put(b"o")
            assert same.get_nowait() == b"o"
        with ringbuf.Queue.open_or_create(qname, 4, 64, owner=owner) as same:
            q.put(b"p")
            assert same.get_nowait() == b"p"


def test_bad_owners_are_refused_before_anything_happens(qname, q):
    for owner in ("", "no-such-user-rbt", 2**32 - 1, str(2**32 - 1)):
        with pytest.raises(ringbuf.InvalidArgument, match="owner '%s'" % owner):
            ringbuf.Queue.open(qname, owner=owner)
        with pytest.raises(ringbuf.InvalidArgument, match=qname):
            ringbuf.Queue.open_or_create(qname, 4, 64, owner=owner)
        with pytest.raises(ringbuf.InvalidArgument, match="owner '%s'" % owner):
            ringbuf.remove(qname, owner=owner)
    for owner in (-1, 2**64):
        with pytest.raises(ValueError, match="not a uid"):
            ringbuf.Queue.open(qname, owner=owner)
    for owner in (b"root", True, 0.0):
        with pytest.raises(TypeError, match="owner must be"):
            ringbuf.remove(qname, owner=owner)
    with ringbuf.Queue.open(qname) as still:  # nothing was removed
        assert still.capacity == 4


def test_remove_with_an_owner(qname, q):
    ringbuf.remove(qname, owner=os.geteuid())
    with pytest.raises(ringbuf.QueueNotFound):
        ringbuf.Queue.open(qname)
    with pytest.raises(ringbuf.QueueNotFound, match=qname):
        ringbuf.remove(qname, owner="any")


def test_version():
    assert ringbuf.version() == ringbuf.__version__
    assert len(ringbuf.version().split(".")) == 3


# ---- put / get --------------------------------------------------------------

def test_binary_messages_round_trip_in_fifo_order(q):
    messages = [b"", b"\x00", b"a\x00b\x00", bytes(range(64)), b"\xff" * 64]
    for m in messages:
        q.put(m) if len(m) % 2 else q.put_nowait(m)
        assert q.get() == m


def test_any_buffer_goes_in_bytes_come_out(q):
    for data in (bytearray(b"ba"), memoryview(b"mv"), array.array("B", [1, 2])):
        q.put(data)
        out = q.get()
        assert type(out) is bytes and out == bytes(data)


def test_str_is_a_type_error_and_too_long_a_value_error(q):
    with pytest.raises(TypeError, match="encode"):
        q.put("text")
    with pytest.raises(TypeError):
        q.put(12)
    with pytest.raises(ValueError, match="65 bytes.*slot size 64"):
        q.put(b"x" * 65)
    assert q.stats().depth == 0


def test_full_and_empty_subclass_the_queue_module(q):
    with pytest.raises(queue.Empty) as e:
        q.get_nowait()
    assert isinstance(e.value, ringbuf.Empty)
    assert not isinstance(e.value, TimeoutError)
    with pytest.raises(ringbuf.Empty):
        q.get(block=False)
    for i in range(4):
        q.put_nowait(b"%d" % i)
    with pytest.raises(queue.Full) as e:
        q.put_nowait(b"5")
    assert isinstance(e.value, ringbuf.Full)
    with pytest.raises(ringbuf.Full):
        q.put(b"5", block=False)


def test_timeouts_raise_timeout_errors_and_never_early(q):
    start = time.monotonic()
    with pytest.raises(TimeoutError) as e:
        q.get(timeout=0.2)
    assert time.monotonic() - start >= 0.2
    assert isinstance(e.value, ringbuf.EmptyTimeout)
    assert isinstance(e.value, queue.Empty)
    for i in range(4):
        q.put(b"%d" % i)
    start = time.monotonic()
    with pytest.raises(TimeoutError) as e:
        q.put(b"5", timeout=0.15)
    assert time.monotonic() - start >= 0.15
    assert isinstance(e.value, ringbuf.FullTimeout)
    assert isinstance(e.value, queue.Full)
    with pytest.raises(ValueError):
        q.get(timeout=-1)


def test_a_timeout_longer_than_a_wait_slice_still_waits_it_all(q):
    start = time.monotonic()
    with pytest.raises(ringbuf.EmptyTimeout):
        q.get(timeout=0.12)  # more than two 50 ms slices
    assert time.monotonic() - start >= 0.12


# ---- batches ----------------------------------------------------------------

def test_put_many_and_get_many(q):
    assert q.put_many([b"a", bytearray(b"b"), b"\x00c"]) == 3
    assert q.get_many(10) == [b"a", b"b", b"\x00c"]
    assert q.put_many(iter([b"1", b"2"])) == 2
    assert q.get_many(1) == [b"1"]
    assert q.get_many(5, timeout=0) == [b"2"]
    with pytest.raises(ringbuf.Empty):
        q.get_many(5, timeout=0)
    with pytest.raises(ringbuf.EmptyTimeout):
        q.get_many(5, timeout=0.05)
    with pytest.raises(ValueError):
        q.get_many(0)


def test_put_many_checks_every_message_before_sending_any(q):
    with pytest.raises(ValueError, match="message 1 "):
        q.put_many([b"ok", b"x" * 65])
    with pytest.raises(TypeError):
        q.put_many([b"ok", "str"])
    assert q.stats().depth == 0


def test_put_many_on_a_full_queue_says_how_many_went(q):
    with pytest.raises(ringbuf.FullTimeout) as e:
        q.put_many([b"%d" % i for i in range(6)], timeout=0.05)
    assert e.value.sent == 4
    with pytest.raises(ringbuf.Full) as e:
        q.put_many([b"more"], timeout=0)
    assert e.value.sent == 0
    assert q.get_many(10) == [b"0", b"1", b"2", b"3"]


# ---- peek -------------------------------------------------------------------

def test_peek_views_the_message_in_place_and_takes_it_at_the_end(q):
    q.put(b"in \x00 place")
    q.put(b"next")
    with q.peek() as view:
        assert isinstance(view, memoryview) and view.readonly
        assert view.tobytes() == b"in \x00 place"
        assert view[3] == 0
    with pytest.raises(ValueError):
        view.tobytes()  # released with the block
    assert q.get_nowait() == b"next"


def test_peek_leaves_the_message_if_the_block_raises(q):
    q.put(b"keep")
    with pytest.raises(RuntimeError):
        with q.peek(timeout=1) as view:
            assert bytes(view) == b"keep"
            raise RuntimeError("handler failed")
    assert q.get_nowait() == b"keep"


def test_peek_on_an_empty_queue(q):
    with pytest.raises(ringbuf.Empty):
        q.peek(timeout=0)
    with pytest.raises(ringbuf.EmptyTimeout):
        q.peek(timeout=0.05)


def test_a_busy_receive_lock_is_not_reported_as_an_empty_queue(q, qname):
    # A peek held elsewhere (here another handle; the calls run on another
    # thread) keeps the receive lock: a timed get or peek never looked at the
    # queue, so it is not Empty/EmptyTimeout but an Error "UNAVAILABLE"
    # (queue.h, "Busy locks"); get_nowait, like ringbuf_receive with no
    # wait, cannot tell the two apart and says Empty.
    q.put(b"a")
    q.put(b"b")
    outcomes = []

    def calls():
        with ringbuf.Queue.open(qname) as other:
            for call in (lambda: other.get(timeout=0.1),
                         lambda: other.peek(timeout=0.1),
                         lambda: other.get_many(8, timeout=0.1),
                         other.get_nowait):
                try:
                    call()
                    outcomes.append(None)
                except ringbuf.Error as e:
                    outcomes.append(e)

    held = q.peek()
    worker = threading.Thread(target=calls)
    worker.start()
    worker.join(WAIT)
    held.drop()
    assert not worker.is_alive()
    timed, nowait = outcomes[:3], outcomes[3]
    for e in timed:
        assert type(e) is ringbuf.Error, repr(e)
        assert e.code_name == "UNAVAILABLE" and "busy" in str(e), repr(e)
    assert isinstance(nowait, ringbuf.Empty), repr(nowait)
    assert q.stats().depth == 2  # nothing was taken


def test_peek_release_and_drop(q):
    q.put(b"1")
    p = q.peek()
    p.drop()
    p = q.peek()
    p.release()
    assert q.stats().depth == 0


def test_a_view_kept_past_the_block_keeps_the_mapping_alive(qname):
    # Reading it is a caller's mistake (stale bytes), but never a crash: the
    # handle is freed only once no buffer of a peeked message is left.
    q = ringbuf.Queue.create(qname, 2, 16)
    q.put(b"hello")
    with q.peek() as view:
        kept = view[1:3]
    q.close()
    assert q.closed
    assert len(bytes(kept)) == 2  # the mapping is still there
    del kept, view


def test_close_with_an_open_peek_waits_for_it(qname):
    q = ringbuf.Queue.create(qname, 2, 16)
    q.put(b"peeked")
    p = q.peek()
    q.close()
    with pytest.raises(ValueError, match="closed"):
        q.get_nowait()
    with p as view:
        assert bytes(view) == b"peeked"
    with ringbuf.Queue.open(qname) as again:
        assert again.stats().depth == 0  # the peek took it


# ---- stats, close -------------------------------------------------------------

def test_stats_is_a_dataclass_snapshot(q):
    q.put_many([b"1", b"2", b"3"])
    q.get()
    s = q.stats()
    assert dataclasses.is_dataclass(s) and isinstance(s, ringbuf.Stats)
    assert (s.capacity, s.slot_size, s.depth) == (4, 64, 2)
    assert (s.head, s.tail, s.total_sent, s.total_received) == (1, 3, 3, 1)
    assert s.send_lock_owner_deaths == s.receive_lock_owner_deaths == 0
    assert s.discarded_partial_sends == s.receives_lost_to_dead_consumers == 0


# ---- Priorities --------------------------------------------------------------

def test_priorities_highest_first_fifo_within(qname):
    with ringbuf.Queue.create(qname, 8, 32, priorities=4) as q, \
            ringbuf.Queue.open(qname) as other:
        assert q.priorities == other.priorities == 4
        q.put(b"data0")
        q.put(b"data1", priority=0)
        q.put(b"flush", priority=2)
        q.put(b"stop", True, None, priority=3)
        q.put(b"flush2", timeout=1, priority=2)
        s = q.stats()
        assert (s.priorities, s.depth) == (4, 5)
        assert s.depth_by_priority == (2, 0, 2, 1)
        got = [other.get_with_priority(timeout=WAIT) for _ in range(5)]
        assert got == [(b"stop", 3), (b"flush", 2), (b"flush2", 2),
                       (b"data0", 0), (b"data1", 0)]
        with pytest.raises(ringbuf.Empty):
            q.get_with_priority(block=False)


def test_priority_out_of_range_and_shared_capacity(qname):
    with ringbuf.Queue.create(qname, 2, 8, priorities=2) as q:
        for bad in (2, 2**40):
            with pytest.raises(ringbuf.InvalidArgument, match="priority"):
                q.put(b"x", priority=bad)
        with pytest.raises(OverflowError):
            q.put(b"x", priority=-1)
        q.put(b"a", priority=1)
        q.put(b"b", priority=0)
        with pytest.raises(ringbuf.Full):  # full for every priority
            q.put(b"c", block=False, priority=1)
        assert q.get() == b"a"
    with ringbuf.Queue.create(qname + "-plain", 2, 8) as plain:
        assert plain.priorities == 1 and plain.stats().depth_by_priority == (0,)
        with pytest.raises(ringbuf.InvalidArgument):
            plain.put(b"x", priority=1)
    ringbuf.remove(qname + "-plain")
    with pytest.raises(ringbuf.InvalidArgument, match="priorities"):
        ringbuf.Queue.create(qname + "-bad", 2, 8, priorities=33)


def test_open_or_create_with_priorities(qname):
    with ringbuf.Queue.open_or_create(qname, 4, 16, priorities=4) as q, \
            ringbuf.Queue.open_or_create(qname, 4, 16, priorities=4,
                                         owner="any") as same:
        assert q.priorities == same.priorities == 4
        q.put(b"hi", priority=3)
        assert same.get_with_priority(block=False) == (b"hi", 3)
        with pytest.raises(ringbuf.IncompatibleQueue, match="priorities"):
            ringbuf.Queue.open_or_create(qname, 4, 16)  # priorities=1
    with pytest.raises(ringbuf.InvalidArgument, match="priorities"):
        ringbuf.Queue.open_or_create(qname + "-bad", 4, 16, priorities=0)


def test_close_detaches_and_later_calls_are_value_errors(qname):
    q = ringbuf.Queue.create(qname, 2, 8)
    q.put(b"kept")
    q.close()
    q.close()  # twice is fine
    assert q.closed
    for call in (lambda: q.get(), lambda: q.put(b"x"), q.stats, q.fileno,
                 lambda: q.peek()):
        with pytest.raises(ValueError, match="closed"):
            call()
    with ringbuf.Queue.open(qname) as again:
        assert again.get_nowait() == b"kept"  # close() left the queue


def test_close_wakes_a_blocked_get_with_shutdown(q):
    result = []
    started = threading.Event()

    def consumer():
        started.set()
        try:
            q.get(timeout=WAIT)
        except BaseException as e:  # noqa: B902 - recorded for the assert
            result.append(e)

    t = threading.Thread(target=consumer)
    t.start()
    started.wait(WAIT)
    q.close()
    t.join(WAIT)
    assert not t.is_alive()
    assert len(result) == 1
    assert isinstance(result[0], (ringbuf.ShutDown, ValueError))


def test_shutdown_makes_waits_raise_shutdown(q):
    q.shutdown()
    with pytest.raises(ringbuf.ShutDown):
        q.get(timeout=WAIT)
    with pytest.raises(ringbuf.ShutDown):
        q.put(b"x")


# ---- threads ----------------------------------------------------------------

def test_a_blocked_get_releases_the_gil(q):
    got = []
    started = threading.Event()

    def consumer():
        started.set()
        got.append(q.get(timeout=WAIT))

    t = threading.Thread(target=consumer)
    t.start()
    # Holding the GIL while blocked would keep this thread from running
    # until the get timed out, and the consumer would see no message.
    started.wait(WAIT)
    q.put(b"through")
    t.join(WAIT)
    assert got == [b"through"]


def test_threads_share_a_handle_exactly_once(q):
    n = 2000
    got = []

    def consumer():
        while True:
            m = q.get(timeout=WAIT)
            if m == b"stop":
                return
            got.append(m)

    threads = [threading.Thread(target=consumer) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(n):
        q.put(b"%d" % i, timeout=WAIT)
    for _ in threads:
        q.put(b"stop", timeout=WAIT)
    for t in threads:
        t.join(WAIT)
    assert sorted(int(m) for m in got) == list(range(n))


# ---- selectors and asyncio ---------------------------------------------------

def test_fileno_works_with_selectors(q):
    with selectors.DefaultSelector() as sel:
        sel.register(q.fileno(), selectors.EVENT_READ)
        assert sel.select(timeout=0) == []
        threading.Thread(target=q.put, args=(b"ping",)).start()
        assert len(sel.select(timeout=WAIT)) == 1
        assert q.get_nowait() == b"ping"
        with pytest.raises(ringbuf.Empty):
            q.get_nowait()  # re-arms: not readable until the next message
        assert sel.select(timeout=0) == []
        q.put(b"pong")
        assert len(sel.select(timeout=WAIT)) == 1
        assert q.get_nowait() == b"pong"


def test_get_async_waits_without_blocking_the_loop(q):
    async def main():
        waiter = asyncio.ensure_future(q.get_async(timeout=WAIT))
        other = asyncio.ensure_future(q.get_async(timeout=WAIT))
        for _ in range(5):
            await asyncio.sleep(0)  # let both register and wait
        assert not waiter.done()
        q.put(b"one")
        q.put(b"two")
        return sorted(await asyncio.gather(waiter, other))

    assert asyncio.run(main()) == [b"one", b"two"]


def test_get_async_times_out_not_early(q):
    async def main():
        start = time.monotonic()
        with pytest.raises(ringbuf.EmptyTimeout):
            await q.get_async(timeout=0.1)
        return time.monotonic() - start

    assert asyncio.run(main()) >= 0.1


@contextlib.contextmanager
def peek_held_elsewhere(qname):
    """Holds a peek (so the receive lock) on the queue's oldest message from
    another handle, on another thread, until the block ends or the function
    it yields is called; then drops it, leaving the message queued."""
    peeking, release = threading.Event(), threading.Event()

    def hold():
        with ringbuf.Queue.open(qname) as other:
            held = other.peek()
            peeking.set()
            release.wait(WAIT)
            held.drop()

    holder = threading.Thread(target=hold)
    holder.start()

    def let_go():
        release.set()
        holder.join(WAIT)
        assert not holder.is_alive()

    try:
        assert peeking.wait(WAIT)
        yield let_go
    finally:
        let_go()


def test_get_async_outlasts_a_busy_receive_lock(q, qname):
    # get_nowait() says Empty both for an empty queue and for a receive lock
    # busy for its 10 ms (another handle's peek), and re-arms fileno(): one
    # that then waited on the fd would wait for a commit that never comes.
    # Here the message is queued, a peek on another thread holds the lock
    # through get_async's first attempt, then ends without taking it: the
    # message must come, with no new put to make the fd readable.
    q.fileno()  # as on a handle that waited before (a new fd starts readable)
    q.put(b"queued")

    async def main():
        with peek_held_elsewhere(qname) as let_go:
            getter = asyncio.ensure_future(q.get_async(timeout=5))
            await asyncio.sleep(0)  # getter's first step: get_nowait() fails
            assert not getter.done()
            let_go()
            start = time.monotonic()
            message = await getter
            return message, time.monotonic() - start

    message, waited = asyncio.run(main())
    assert message == b"queued"
    assert waited < 4  # not the EmptyTimeout of a wait on the fd


def test_get_async_on_a_lock_busy_to_its_timeout_is_unavailable(q, qname):
    # As get(): the queue was never seen empty, so not EmptyTimeout.
    q.fileno()
    q.put(b"queued")

    async def main():
        with pytest.raises(ringbuf.Error) as failure:
            await q.get_async(timeout=0.1)
        return failure.value

    with peek_held_elsewhere(qname):
        error = asyncio.run(main())
    assert type(error) is ringbuf.Error, repr(error)
    assert error.code_name == "UNAVAILABLE" and "busy" in str(error)
    assert q.get_nowait() == b"queued"


def test_get_async_with_a_producer_thread(q):
    n = 200

    def producer():
        for i in range(n):
            q.put(b"%d" % i, timeout=WAIT)

    async def main():
        t = threading.Thread(target=producer)
        t.start()
        got = [await q.get_async(timeout=WAIT) for _ in range(n)]
        t.join(WAIT)
        return got

    assert asyncio.run(main()) == [b"%d" % i for i in range(n)]
