"""The exceptions of ringbuf and its Stats record (the C binding raises and
builds these; see ringbuf/__init__.py for the API)."""

import dataclasses
import queue


class Error(Exception):
    """A ringbuf call failed. ``code`` is the C API's ringbuf_status value
    and ``code_name`` its name ("DATA_LOSS"); the message names the queue."""

    code = None
    code_name = None


class Full(Error, queue.Full):
    """put_nowait() (or a put with timeout 0) found the queue full, or its
    send lock stayed busy for the 10 ms every call waits (another handle's
    zero-copy reservation: the C API cannot tell these apart for a try).
    A timed put whose send lock stayed busy to its deadline never looked at
    the queue: it raises a plain Error with code_name "UNAVAILABLE", not
    Full."""


class Empty(Error, queue.Empty):
    """get_nowait() (or a get or peek with timeout 0) found the queue
    empty, or its receive lock stayed busy for the 10 ms every call waits
    (another handle's peek). A timed get, get_many or peek whose receive lock
    stayed busy to its deadline never looked at the queue: it raises a plain
    Error with code_name "UNAVAILABLE", not Empty."""


class FullTimeout(Full, TimeoutError):
    """A put's timeout passed with the queue still full."""


class EmptyTimeout(Empty, TimeoutError):
    """A get's or peek's timeout passed with no message."""


class ShutDown(Error):
    """The handle was shut down (Queue.shutdown() or close() from another
    thread) while or before the call waited."""


class QueueNotFound(Error, FileNotFoundError):
    """No queue has that name."""


class QueueExists(Error, FileExistsError):
    """create() of a name that exists."""


class AccessDenied(Error, PermissionError):
    """The queue's mode (or owner) does not let this user open it."""


class InvalidArgument(Error, ValueError):
    """A bad name, geometry or message."""


class IncompatibleQueue(Error):
    """The existing queue has another geometry (open_or_create) or layout
    version."""


class Corrupt(Error):
    """The queue's shared memory is not a (sound) ringbuf queue."""


class ResourceExhausted(Error, OSError):
    """Out of shared memory or file descriptors."""


# ringbuf_status values (ringbuf/c_api.h) -> the class raised. Codes not here
# raise Error; UNAVAILABLE and DEADLINE_EXCEEDED depend on the call (Full,
# Empty and their timeouts; UNAVAILABLE from a timed call, a busy lock, is a
# plain Error).
BY_CODE = {
    1: ShutDown,             # CANCELLED
    3: InvalidArgument,      # INVALID_ARGUMENT
    5: QueueNotFound,        # NOT_FOUND
    6: QueueExists,          # ALREADY_EXISTS
    7: AccessDenied,         # PERMISSION_DENIED
    8: ResourceExhausted,    # RESOURCE_EXHAUSTED
    9: IncompatibleQueue,    # FAILED_PRECONDITION
    15: Corrupt,             # DATA_LOSS
}


@dataclasses.dataclass(frozen=True)
class Stats:
    """A snapshot of a queue, read without taking its locks (each field is
    exact at some instant; depth may disagree with tail - head by the
    operations in flight)."""

    capacity: int
    slot_size: int
    depth: int                   # messages committed and not yet taken
    head: int                    # messages ever taken
    tail: int                    # messages ever committed
    total_sent: int              # == tail
    total_received: int          # == head
    send_lock_owner_deaths: int  # crash repairs of the send side
    receive_lock_owner_deaths: int
    discarded_partial_sends: int  # sends that died mid-copy
    receives_lost_to_dead_consumers: int
    priorities: int = 1          # the queue's number of priorities
    # messages waiting at each priority, 0 (lowest) first
    depth_by_priority: tuple = ()
