#!/usr/bin/env python3
"""The C API from Python through ctypes: attach to an existing queue, receive
COUNT messages and print each on its own line.

  py_consumer.py [--lib PATH] QUEUE COUNT [TIMEOUT_MS]

PATH is the shared library //ringbuf:libringbuf_c.so (default: the
RINGBUF_C_LIB environment variable). Waits at most TIMEOUT_MS (default 5000)
for each message. Exits 0 once COUNT messages were printed; 1 if the queue
cannot be opened or a receive fails (the error, with its code, goes to
stderr); 2 on bad usage.
"""

import argparse
import ctypes
import os
import sys

RINGBUF_OK = 0


def load(path):
    """Loads libringbuf_c.so and declares the prototypes used here (ctypes
    would otherwise assume int everywhere and truncate 64-bit values)."""
    lib = ctypes.CDLL(path)
    queue_p = ctypes.c_void_p  # ringbuf_queue*, opaque
    lib.ringbuf_open.argtypes = [ctypes.c_char_p, ctypes.POINTER(queue_p)]
    lib.ringbuf_open.restype = ctypes.c_int
    lib.ringbuf_close.argtypes = [queue_p]
    lib.ringbuf_close.restype = None
    lib.ringbuf_slot_size.argtypes = [queue_p]
    lib.ringbuf_slot_size.restype = ctypes.c_uint32
    lib.ringbuf_receive.argtypes = [queue_p, ctypes.c_void_p, ctypes.c_size_t,
                                    ctypes.POINTER(ctypes.c_size_t),
                                    ctypes.c_int64]
    lib.ringbuf_receive.restype = ctypes.c_int
    lib.ringbuf_last_error.argtypes = []
    lib.ringbuf_last_error.restype = ctypes.c_char_p
    lib.ringbuf_status_name.argtypes = [ctypes.c_int]
    lib.ringbuf_status_name.restype = ctypes.c_char_p
    return lib


def error(lib, code):
    """The failed call's code and message (read in the calling thread)."""
    return "%s: %s" % (lib.ringbuf_status_name(code).decode(),
                       lib.ringbuf_last_error().decode(errors="replace"))


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", default=os.environ.get("RINGBUF_C_LIB"),
                        help="path of libringbuf_c.so [$RINGBUF_C_LIB]")
    parser.add_argument("queue")
    parser.add_argument("count", type=int)
    parser.add_argument("timeout_ms", type=int, nargs="?", default=5000)
    args = parser.parse_args(argv)
    if not args.lib or args.count < 0 or args.timeout_ms < 0:
        parser.print_usage(sys.stderr)
        return 2

    lib = load(args.lib)
    queue = ctypes.c_void_p()
    rc = lib.ringbuf_open(args.queue.encode(), ctypes.byref(queue))
    if rc != RINGBUF_OK:
        print("py_consumer: " + error(lib, rc), file=sys.stderr)
        return 1
    try:
        # A buffer of slot_size bytes holds any message of this queue.
        cap = lib.ringbuf_slot_size(queue)
        buf = ctypes.create_string_buffer(max(cap, 1))
        length = ctypes.c_size_t()
        timeout_ns = min(args.timeout_ms * 1000000, 2**63 - 1)
        for i in range(args.count):
            rc = lib.ringbuf_receive(queue, buf, cap, ctypes.byref(length),
                                     timeout_ns)
            if rc != RINGBUF_OK:
                print("py_consumer: message %d: %s" % (i, error(lib, rc)),
                      file=sys.stderr)
                return 1
            # Messages are bytes: write them as received.
            sys.stdout.buffer.write(ctypes.string_at(buf, length.value) + b"\n")
            sys.stdout.buffer.flush()
        return 0
    finally:
        lib.ringbuf_close(queue)  # unmaps; the queue and its messages remain


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
