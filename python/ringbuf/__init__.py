"""ringbuf: a bounded multi-producer, multi-consumer message queue in POSIX
shared memory, shared by processes on one host (and by C, C++, Rust, Go...
programs through the C API of the same library).

    import ringbuf
    with ringbuf.Queue.open_or_create("jobs", capacity=1024, slot_size=256) as q:
        q.put(b"hello")            # blocks while the queue is full
        print(q.get(timeout=1.0))  # b'hello'; ringbuf.Empty after 1 s

Names follow the standard library's ``queue``: put/get block by default and
take a ``timeout`` in seconds; put_nowait/get_nowait never wait. A full queue
raises ``ringbuf.Full`` and an empty one ``ringbuf.Empty`` (subclasses of
``queue.Full`` / ``queue.Empty``); when a timeout ran out they are
``FullTimeout`` / ``EmptyTimeout``, which are also ``TimeoutError``s.
A lock another handle holds (its peek, or a reservation) is not a full or
empty queue: a timed call that found it busy to the end raises ``Error``
with ``code_name == "UNAVAILABLE"``; the nowait calls cannot tell and raise
Full / Empty (see their docstrings).

Messages are bytes: any buffer (bytes, bytearray, memoryview, array...) of
at most ``slot_size`` bytes goes in (a longer one is a ValueError, a str a
TypeError), ``bytes`` come out, NULs included, boundaries preserved.

Blocking calls release the GIL, so other threads run while one waits, and
wake at least every 50 ms to run signal handlers: Ctrl-C interrupts them.

A queue lives in /dev/shm until ``ringbuf.remove(name)``; ``close()`` (or the
end of the ``with`` block) only detaches this handle.
"""

import asyncio
import functools
import os

from ringbuf._errors import (AccessDenied, Corrupt, Empty, EmptyTimeout, Error,
                             Full, FullTimeout, IncompatibleQueue,
                             InvalidArgument, QueueExists, QueueNotFound,
                             ResourceExhausted, ShutDown, Stats)
from ringbuf import _ringbuf

__all__ = [
    "Queue", "remove", "version", "Stats", "Error", "Full", "Empty",
    "FullTimeout", "EmptyTimeout", "ShutDown", "QueueNotFound", "QueueExists",
    "AccessDenied", "InvalidArgument", "IncompatibleQueue", "Corrupt",
    "ResourceExhausted",
]

__version__ = _ringbuf.version()


def version():
    """The version of the ringbuf library in use ("1.2.0")."""
    return _ringbuf.version()


def remove(name, *, owner=None):
    """Unlinks the queue ``name``. Open handles keep working on it; new opens
    fail with QueueNotFound. Raises QueueNotFound if there is no such queue,
    AccessDenied (a PermissionError) if its owner is not trusted: as
    Queue.open, only your own or root's queues unless ``owner`` names
    another."""
    _ringbuf.remove(name, owner=owner)


class Queue(_ringbuf.Queue):
    """A handle on a shared-memory queue. Made by the class methods:

    Queue.create(name, capacity, slot_size, mode=0o600, *, priorities=1)
        A new, empty queue of ``capacity`` messages of up to ``slot_size``
        bytes, with permission bits ``mode``. QueueExists if the name is
        taken. ``priorities`` (1..32) levels of priority: get() returns the
        oldest message of the highest non-empty priority. The capacity is
        shared by all priorities; each costs a ring of ``capacity`` slots.
    Queue.open(name, *, owner=None)
        The existing queue; QueueNotFound if there is none.
    Queue.open_or_create(name, capacity, slot_size, mode=0o600, *,
                         priorities=1, owner=None)
        Whichever applies, safely when processes race; IncompatibleQueue if
        the existing one has another capacity, slot_size or priorities.

    Whose queues to open: anyone can create a name in /dev/shm first
    (squat it), so open and open_or_create accept an existing queue only if
    its owner is trusted, and raise AccessDenied (a PermissionError) naming
    the queue and its owner otherwise. ``owner`` says whom to trust besides
    the default, this process's effective uid and root:
        None (the default), "any" (every owner: for inspection and tests),
        a user name ("svc-a"), or a uid (an int, or a string of digits).

    Methods (timeouts in seconds; None waits as long as it takes):
      put(data, block=True, timeout=None, *, priority=0), put_nowait(data)
          priority 0 (lowest) .. priorities-1 (InvalidArgument beyond)
      get(block=True, timeout=None) -> bytes, get_nowait() -> bytes
      get_with_priority(block=True, timeout=None) -> (bytes, priority)
      put_many(messages, timeout=None) -> count
          Sends in order, waking consumers once per group that fits. On a
          timeout the exception's ``sent`` says how many went.
      get_many(max_messages, timeout=None) -> [bytes, ...]
          Waits for one message, then takes up to max_messages of those
          waiting at once (at most 32 KiB of slots per call).
      peek(timeout=None) -> context manager:
          with q.peek() as view:   # read-only memoryview of the slot
              handle(view)         # no copy; the message is taken at the
                                   # end of the block (left queued if it
                                   # raised). Use view only inside the
                                   # block, on the thread that peeked.
      stats() -> Stats
      fileno() -> int: readable when messages may be waiting, for
          selectors / loop.add_reader: when readable, call get_nowait()
          until Empty (which re-arms it). Costs a helper thread. Empty also
          means a receive lock busy for 10 ms (another handle's peek), and
          the re-armed fd turns readable only on the next message: when
          other handles peek, confirm with stats().depth == 0 before
          waiting on the fd again (and retry shortly if it is not).
      await get_async(timeout=None) -> bytes: get() for asyncio (does
          that check itself).
      shutdown(): makes every waiting and later call raise ShutDown.
      close(): detaches; also at the end of a ``with`` block.
    Properties: name ("/jobs"), capacity, slot_size, priorities, closed.

    A handle may be shared by threads. After fork(), a child may use the
    handles it inherited (fileno() excepted: make a new handle); pickling a
    handle (multiprocessing's "spawn") reopens the queue by name.
    """

    __slots__ = ()

    async def get_async(self, timeout=None):
        """Waits for a message without blocking the event loop (through
        fileno()) and returns it; EmptyTimeout after ``timeout`` seconds.
        A receive lock another handle holds (its peek) to the end of the
        timeout raises Error with code_name "UNAVAILABLE", as get() does."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        busy_delay = _BUSY_RETRY_FIRST
        while True:
            try:
                return self.get_nowait()  # re-arms fileno() when empty
            except EmptyTimeout:
                raise
            except Empty as empty:
                # Empty also means "the receive lock stayed busy for 10 ms",
                # and the fd, just re-armed, turns readable only on the next
                # commit: waiting on it with messages queued could last
                # forever. The depth (read without the lock) tells them apart.
                busy = self.stats().depth > 0
                failure = empty
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                if busy:
                    raise _unavailable(failure)
                raise EmptyTimeout(
                    "queue '%s': no message within %s s" % (self.name, timeout))
            if busy:
                # Retry soon, sleeping (not blocking the loop) a little
                # longer each time, up to about the 10 ms each failed try
                # blocks the loop for.
                await asyncio.sleep(busy_delay if remaining is None
                                    else min(busy_delay, remaining))
                busy_delay = min(2 * busy_delay, _BUSY_RETRY_MAX)
            else:
                busy_delay = _BUSY_RETRY_FIRST
                await _wait_readable(loop, self, remaining)

    def __reduce__(self):
        # Pickled (e.g. as a multiprocessing.Process argument under "spawn"),
        # a handle travels as its name and is reopened on arrival, trusting
        # the owner it was opened with.
        if self.closed:
            raise ValueError("queue '%s' is closed" % self.name)
        return (functools.partial(type(self).open, owner=self._owner),
                (self.name,))

    def __repr__(self):
        state = "closed" if self.closed else "capacity=%d, slot_size=%d" % (
            self.capacity, self.slot_size)
        return "<ringbuf.Queue %r %s>" % (self.name, state)


# get_async's pauses between tries while another handle holds the receive
# lock (seconds): short, as the holder may let go at any time; growing, so
# that a lock held long leaves the loop free most of the time.
_BUSY_RETRY_FIRST = 0.001
_BUSY_RETRY_MAX = 0.016


def _unavailable(empty):
    """The Error a timed get raises for a receive lock busy to its deadline,
    from the Empty of get_nowait() that found it busy."""
    error = Error(str(empty))
    error.code, error.code_name = empty.code, empty.code_name
    return error


async def _wait_readable(loop, q, timeout):
    """Waits until q.fileno() is readable or ``timeout`` passed. Several
    coroutines may wait on one queue at once: each gets its own reader
    registration through a dup() of the fd (a loop allows one reader per
    fd)."""

    fd = os.dup(q.fileno())
    future = loop.create_future()
    loop.add_reader(fd, lambda: future.done() or future.set_result(None))
    try:
        await asyncio.wait_for(future, timeout)
    except asyncio.TimeoutError:
        pass
    finally:
        loop.remove_reader(fd)
        os.close(fd)
