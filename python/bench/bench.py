#!/usr/bin/env python3
"""Messages per second through ringbuf.Queue, multiprocessing.Queue and
multiprocessing.Pipe, in one run, 1 -> 1 and 4 -> 1 processes, 64 B and 4 KiB
messages.

    /usr/bin/python3 python/bench/bench.py [--messages N] [--repeat R]

(with the ringbuf package importable: installed, see python/README.md).

Each case: P producer processes (forked) each send N/P messages of the size
as fast as they can; this process receives all N; the clock runs from the
moment the producers are released until the last message arrived. Reported:
the median of R runs, in messages/s, and ringbuf's ratio to
multiprocessing.Queue. Producers are pinned to the last CPU and the consumer
to the first when there are at least two (os.sched_setaffinity), so the
numbers compare the channels rather than the scheduler's placement.

The channels, each used the way its documentation suggests:
  ringbuf            Queue.put(bytes) / Queue.get(), capacity 1024
  ringbuf batch      Queue.put_many(64 messages) / Queue.get_many(256)
  mp.Queue           multiprocessing.Queue() (unbounded; pickles; feeder
                     thread) put / get
  mp.Pipe            send_bytes / recv_bytes (no pickling); 4 -> 1 uses one
                     Pipe per producer and multiprocessing.connection.wait,
                     as a Pipe end must not be written by two processes
"""

import argparse
import multiprocessing
import multiprocessing.connection
import os
import statistics
import time

import ringbuf

CTX = multiprocessing.get_context("fork")
BATCH = 64


def pin(consumer):
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2:
        os.sched_setaffinity(0, {cpus[0] if consumer else cpus[-1]})


# ---- producers (run in forked children) ------------------------------------

def produce_ringbuf(name, count, size, batch, start):
    pin(consumer=False)
    payload = b"x" * size
    with ringbuf.Queue.open(name) as q:
        start.wait()
        if batch:
            chunk = [payload] * BATCH
            for _ in range(count // BATCH):
                q.put_many(chunk)
            for _ in range(count % BATCH):
                q.put(payload)
        else:
            put = q.put
            for _ in range(count):
                put(payload)


def produce_mp_queue(q, count, size, start):
    pin(consumer=False)
    payload = b"x" * size
    start.wait()
    put = q.put
    for _ in range(count):
        put(payload)
    q.close()
    q.join_thread()


def produce_pipe(conn, count, size, start):
    pin(consumer=False)
    payload = b"x" * size
    start.wait()
    send = conn.send_bytes
    for _ in range(count):
        send(payload)


# ---- one case ----------------------------------------------------------------

def run_case(channel, producers, size, total):
    per = total // producers
    total = per * producers
    start = CTX.Event()
    cleanup = lambda: None  # noqa: E731
    if channel in ("ringbuf", "ringbuf batch"):
        name = "/rb-pybench-%d" % os.getpid()
        try:
            ringbuf.remove(name)
        except ringbuf.QueueNotFound:
            pass
        q = ringbuf.Queue.create(name, 1024, size)
        batch = channel == "ringbuf batch"
        procs = [CTX.Process(target=produce_ringbuf,
                             args=(name, per, size, batch, start))
                 for _ in range(producers)]

        def consume():
            got = 0
            if batch:
                get_many = q.get_many
                while got < total:
                    got += len(get_many(256))
            else:
                get = q.get
                for _ in range(total):
                    get()

        def cleanup():
            q.close()
            ringbuf.remove(name)
    elif channel == "mp.Queue":
        q = CTX.Queue()
        procs = [CTX.Process(target=produce_mp_queue, args=(q, per, size, start))
                 for _ in range(producers)]

        def consume():
            get = q.get
            for _ in range(total):
                get()
    else:  # mp.Pipe
        pipes = [CTX.Pipe(duplex=False) for _ in range(producers)]
        procs = [CTX.Process(target=produce_pipe, args=(w, per, size, start))
                 for _, w in pipes]
        readers = [r for r, _ in pipes]

        def consume():
            got = 0
            if len(readers) == 1:
                recv = readers[0].recv_bytes
                for _ in range(total):
                    recv()
                return
            while got < total:
                for r in multiprocessing.connection.wait(readers):
                    r.recv_bytes()
                    got += 1

    for p in procs:
        p.start()
    pin(consumer=True)
    t0 = time.perf_counter()
    start.set()
    consume()
    elapsed = time.perf_counter() - t0
    for p in procs:
        p.join()
    cleanup()
    return total / elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200000,
                        help="messages per case (default 200000)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs per case; the median is reported")
    args = parser.parse_args()
    channels = ["ringbuf", "ringbuf batch", "mp.Queue", "mp.Pipe"]
    print("ringbuf %s, Python %s, %d CPUs available, %d messages per case, "
          "median of %d" % (ringbuf.version(), os.sys.version.split()[0],
                             len(os.sched_getaffinity(0)), args.messages,
                             args.repeat))
    print()
    print("| processes | size | " + " | ".join(channels) +
          " | ringbuf / mp.Queue |")
    print("|---|---|" + "---:|" * (len(channels) + 1))
    for producers in (1, 4):
        for size in (64, 4096):
            rates = {}
            for channel in channels:
                rates[channel] = statistics.median(
                    run_case(channel, producers, size, args.messages)
                    for _ in range(args.repeat))
            cells = ["{:,.0f}".format(rates[c]) for c in channels]
            print("| %d -> 1 | %s | %s | %.1fx |" % (
                producers, "64 B" if size == 64 else "4 KiB", " | ".join(cells),
                rates["ringbuf"] / rates["mp.Queue"]), flush=True)


if __name__ == "__main__":
    main()
