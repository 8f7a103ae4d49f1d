"""Turns queue_benchmark's JSON into RESULTS.md, the README's table and charts.

Usage:
  report.py BENCHMARK_JSON --out DIR --command "bench/run_benchmarks.sh --quick"
            [--note TEXT ...]

Writes DIR/RESULTS.md (a table per workload and placement, ringbuf's ratio to
each peer, the machine and the command that reproduces it), DIR/README-table.md
(the README's performance table: pinned rows first, each cell the median and
the range over repetitions) and, when gnuplot is installed,
DIR/throughput_vs_producers.png and DIR/throughput_vs_size.png.
Python 3 standard library only.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile

TRANSPORTS = ["ringbuf", "posix_mq", "boost_mq", "pipe", "spsc_busy"]
PEERS = TRANSPORTS[1:]
CREWS = [(1, 1), (4, 1), (4, 2), (16, 1), (64, 1)]
PLACEMENTS = ["split", "same", "none"]
PLACEMENT_TEXT = {
    "split": "producers CPU A, consumer CPU B",
    "same": "every process on CPU A",
    "none": "unpinned",
}


# ---- Reading -----------------------------------------------------------------

class Row:
    """One benchmark row, BM_<Workload>/<transport>/<key>:<value>/..., over
    all its repetitions: the median when there were several, the error if any
    repetition failed (a broken run never contributes a figure)."""

    def __init__(self, run_name, runs, aggregates):
        parts = run_name.split("/")
        self.workload = parts[0][len("BM_"):]
        self.transport = parts[1]
        self.params = {}
        for part in parts[2:]:
            if ":" in part:
                key, value = part.split(":", 1)
                self.params[key] = int(value) if value.lstrip("-").isdigit() else value
        errors = [r.get("error_message", "error") for r in runs if r.get("error_occurred")]
        self.error = errors[0] if errors else None
        self.repetitions = len(runs)
        self.runs = runs
        self.counters = aggregates.get("median") or (runs[-1] if runs else {})
        self.mean = aggregates.get("mean", {})
        self.stddev = aggregates.get("stddev", {})

    def get(self, counter):
        return None if self.error else self.counters.get(counter)

    def range(self, counter):
        """(min, max) of a counter over the repetitions, or None."""
        values = [r[counter] for r in self.runs if counter in r and not r.get("error_occurred")]
        return (min(values), max(values)) if values and not self.error else None

    def spread(self, counter):
        """Standard deviation over mean across repetitions, or None."""
        mean, dev = self.mean.get(counter), self.stddev.get(counter)
        return dev / mean if not self.error and mean and dev is not None else None

    def key(self):
        return tuple(sorted(self.params.items()))


def load(path):
    with open(path) as f:
        data = json.load(f)
    groups = {}  # run_name -> (runs, {aggregate_name: entry}), in first-seen order
    for entry in data["benchmarks"]:
        runs, aggregates = groups.setdefault(entry.get("run_name", entry["name"]), ([], {}))
        if entry.get("run_type") == "aggregate":
            aggregates[entry["aggregate_name"]] = entry
        else:
            runs.append(entry)
    rows = [Row(name, runs, aggregates) for name, (runs, aggregates) in groups.items()]
    return data.get("context", {}), rows


def index(rows, workload):
    """{params key: {transport: Row}} for one workload, in first-seen order."""
    table = {}
    for row in rows:
        if row.workload == workload:
            table.setdefault(row.key(), {})[row.transport] = row
    return table


# ---- Formatting ----------------------------------------------------------------

def fmt_rate(value):
    if value is None:
        return "—"
    for scale, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if value >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def fmt_num(value, digits=3):
    if value is None:
        return "—"
    return f"{value:,.0f}" if abs(value) >= 10 ** digits else f"{value:.{digits}g}"


def fmt_spread(value):
    return "" if value is None else f"±{100 * value:.0f}%"


def fmt_ratio(ours, theirs):
    if ours is None or theirs is None or theirs == 0:
        return "—"
    ratio = ours / theirs
    text = f"{ratio:.2f}×"
    return f"**{text}**" if ratio < 1 else text


def crew_label(params):
    return f"{params['p']}→{params['c']}"


def place_of(params):
    return params.get("place", "none")


def table(header, rows, text_columns=(0,)):
    """A Markdown table: columns at `text_columns` left-aligned, the rest right."""
    align = [":--" if i in text_columns else "--:" for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


# ---- Machine -------------------------------------------------------------------

def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def os_name():
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "unknown"


def load_average_now():
    try:
        with open("/proc/loadavg") as f:
            return ", ".join(f.read().split()[:3])
    except OSError:
        return "?"


def machine_section(context):
    uname = os.uname()
    load = context.get("load_avg")
    rows = [
        ("nproc", len(os.sched_getaffinity(0))),
        ("CPU model", f"{cpu_model()} ({context.get('num_cpus', '?')} × "
                      f"{context.get('mhz_per_cpu', '?')} MHz as Google Benchmark saw it)"),
        ("kernel", f"{uname.sysname} {uname.release} {uname.machine}"),
        ("OS", os_name()),
        ("date of the run", context.get("date", "?")),
        ("load average (1, 5, 15 min) at the start",
         ", ".join(f"{x:.2f}" for x in load) if load else "?"),
        ("load average when this report was written", load_average_now()),
        ("scale", context.get("ringbuf_bench_scale", "?")),
        ("Google Benchmark library", f"{context.get('library_build_type', '?')} build "
                                     "(Debian's; times are manual, so it does not touch the figures)"),
    ]
    return (["## Machine", ""] + table(["what", "value"], rows, text_columns=(0, 1)) + [
        "", "A load average above 0 at the start means other work shared the two vCPUs "
        "with the benchmark: expect rows to move by the spread shown, or more."])


def limits_section(context, notes):
    keys = [
        ("posix_mq_msg_max", "POSIX mq `msg_max` (most messages per queue)"),
        ("posix_mq_msgsize_max", "POSIX mq `msgsize_max` (largest message, B)"),
        ("rlimit_msgqueue", "`RLIMIT_MSGQUEUE` (B, all of a user's queues together)"),
        ("pipe_max_size", "`pipe-max-size` (most bytes in a pipe)"),
        ("pipe_buf", "`PIPE_BUF` (largest atomic pipe write, B)"),
    ]
    lines = ["## Peer limits in force during the run", ""]
    lines += table(["limit", "value"], [(label, context.get(k, "?")) for k, label in keys],
                   text_columns=(0, 1))
    lines += ["", "Every transport is asked for the same capacity; **capacity got** is what it "
              "had. POSIX mq gets min(asked, `msg_max`, what fits in `RLIMIT_MSGQUEUE` at "
              "≈ size + 96 B a message); a pipe holds min(asked × size, `pipe-max-size`) bytes, "
              "rounded up to a power of two pages (so often more than asked for small "
              "messages); ringbuf and Boost get what they are asked. A geometry a peer cannot "
              "have at all is shown as *unavailable*, with the reason."]
    if notes:
        lines += [""] + [f"- {n}" for n in notes]
    return lines


# ---- Workload sections ---------------------------------------------------------------

MIXED_PRIORITY_TEXT = (
    "The throughput workload again, with every producer cycling its messages through 4 "
    "priorities (message i at priority i % 4): only the transports that have priorities "
    "(ringbuf created with `Options::priorities = 4`, `mq_send`'s and Boost's `send`'s "
    "priority argument). Each consumer checks the order per producer and priority.")


def throughput_sections(rows, workload="Throughput", heading="## Throughput",
                        text=None):
    configs = index(rows, workload)
    if not configs:
        return [], []
    detail, summary, losses = [], [], []
    for key, by_transport in configs.items():
        params = dict(key)
        label = (place_of(params), crew_label(params), params["size"], params["cap"])
        ours = by_transport.get("ringbuf")
        ours_rate = ours.get("msgs_per_sec") if ours else None
        for transport in TRANSPORTS:
            row = by_transport.get(transport)
            if row is None:
                continue
            if row.error:
                detail.append(label + (transport, f"*{row.error}*", "", "", "", "", ""))
                continue
            rate = row.get("msgs_per_sec")
            ratio = "" if transport == "ringbuf" else fmt_ratio(ours_rate, rate)
            detail.append(label + (
                transport, fmt_rate(rate), fmt_spread(row.spread("msgs_per_sec")),
                fmt_num(row.get("bytes_per_sec") / 1e6), fmt_num(row.get("cpu_us_per_msg")),
                int(row.get("capacity_got")), ratio))
            if transport != "ringbuf" and ours_rate and rate and ours_rate < rate:
                losses.append(Loss(ours_rate / rate, ours, row,
                                   f"{label[0]}, {label[1]}, {label[2]} B, capacity {label[3]} "
                                   "asked: ringbuf "
                                   f"{fmt_rate(ours_rate)} msgs/s vs {transport} "
                                   f"{fmt_rate(rate)} (capacity got "
                                   f"{int(row.get('capacity_got'))})", "msgs_per_sec"))
        summary.append(label + (fmt_rate(ours_rate),) + tuple(
            fmt_ratio(ours_rate, by_transport[p].get("msgs_per_sec")) if p in by_transport
            else "—" for p in PEERS))
    lines = [heading, ""] + ([text, ""] if text else []) + [
             "P producer processes → C consumer processes move a fixed number of messages, "
             "every one verified (per-producer order, exact count, not torn). msgs/s and MB/s "
             "(10⁶ B) are over the wall time from the start gate to the last process's last "
             "call; cpu µs/msg is the user + sys CPU of all the processes over the same span, "
             "per message. With repetitions, each figure is the median and **spread** the "
             "standard deviation over the mean of msgs/s. **ringbuf ÷ this** is ringbuf's msgs/s "
             "over this transport's, in bold when below 1 (ringbuf slower).", ""]
    lines += table(["placement", "P→C", "size (B)", "capacity asked", "transport", "msgs/s",
                    "spread", "MB/s", "cpu µs/msg", "capacity got", "ringbuf ÷ this"], detail,
                   text_columns=(0, 1, 4))
    lines += ["", "### ringbuf ÷ peer, at a glance", "",
              "ringbuf's msgs/s over each peer's in the same row: above 1 ringbuf is faster.",
              ""]
    lines += table(["placement", "P→C", "size (B)", "capacity asked", "ringbuf msgs/s"] +
                   [f"÷ {p}" for p in PEERS], summary, text_columns=(0, 1))
    return lines, losses


def roundtrip_section(rows):
    configs = index(rows, "RoundTrip")
    if not configs:
        return [], []
    lines = ["## Round trip", "",
             "A pinger sends a 64-byte message through one channel and a ponger sends it back "
             "through another, one message in flight, so every receive finds its channel "
             "empty and waits: this is the latency of the waiting path (spinning, sleeping in "
             "the kernel, or both), both ways. Percentiles are over "
             "every timed round trip (CLOCK_MONOTONIC) of a repetition (median over "
             "repetitions); cpu is both processes'. **this ÷ ringbuf** is this transport's p50 "
             "over ringbuf's: above 1 ringbuf is faster.", ""]
    body, losses = [], []
    for key, by_transport in configs.items():
        place = place_of(dict(key))
        ours = by_transport.get("ringbuf")
        ours_p50 = ours.get("p50_us") if ours else None
        for transport in TRANSPORTS:
            row = by_transport.get(transport)
            if row is None:
                continue
            if row.error:
                body.append((place, transport, f"*{row.error}*", "", "", "", ""))
                continue
            p50 = row.get("p50_us")
            body.append((place, transport, fmt_num(p50), fmt_num(row.get("p99_us")),
                         fmt_num(row.get("cpu_us_per_roundtrip")), int(row.get("capacity_got")),
                         "" if transport == "ringbuf" else fmt_ratio(p50, ours_p50)))
            if transport != "ringbuf" and ours_p50 and p50 and p50 < ours_p50:
                losses.append(Loss(p50 / ours_p50, ours, row,
                                   f"{place}, round trip p50: ringbuf {ours_p50:.3g} µs vs "
                                   f"{transport} "
                                   f"{p50:.3g} µs", "p50_us"))
    lines += table(["placement", "transport", "p50 µs", "p99 µs", "cpu µs/round trip",
                    "capacity got", "this ÷ ringbuf (p50)"], body, text_columns=(0, 1))
    return lines, losses


def idle_section(rows):
    configs = index(rows, "IdleWait")
    if not configs:
        return []
    lines = ["## Idle waiter", "",
             "A consumer blocks on an empty channel. After it has settled (50 ms), a second "
             "process reads the consumer's CPU-time clock (`clock_getcpuclockid`) at the start "
             "and the end of 0.5 s of idleness, then wakes it with one message: the figure is "
             "what an idle subscriber costs per second, steady state, wake-up excluded. A "
             "transport that sleeps in the kernel shows 0; ringbuf's sleeps are sliced at "
             "1 s (it re-checks for a wake-up lost with a dead process), which costs one wake-up a second.", ""]
    body = []
    for by_transport in configs.values():
        for transport in TRANSPORTS:
            row = by_transport.get(transport)
            if row is not None:
                body.append((transport, f"*{row.error}*" if row.error else
                             fmt_num(row.get("cpu_us_per_idle_sec"))))
    return lines + table(["transport", "CPU µs per idle second"], body)


# ---- The README's table -------------------------------------------------------------

README_PEERS = ["boost_mq", "posix_mq", "pipe", "spsc_busy"]


def fmt_cell(row, counter, fmt, scale=1.0):
    """A row's median, and its range over the repetitions when there were several."""
    if row is None:
        return "—"
    if row.error:
        return "n/a" if row.error.startswith("unavailable:") else "FAILED"
    value = row.get(counter)
    spread = row.range(counter)
    text = fmt(value * scale)
    if spread is not None and row.repetitions > 1:
        text += f" ({fmt(spread[0] * scale)}–{fmt(spread[1] * scale)})"
    return text


def ratio_of(ours, theirs, counter, higher_is_better=True):
    if ours is None or theirs is None or ours.error or theirs.error:
        return "—"
    a, b = ours.get(counter), theirs.get(counter)
    return fmt_ratio(a, b) if higher_is_better else fmt_ratio(b, a)


def readme_table(rows, command, load):
    """The README's performance table: each placement's 64 B, capacity 1024
    throughput rows and its round trip, pinned placements first."""
    throughput = index(rows, "Throughput")
    roundtrip = index(rows, "RoundTrip")
    body = []
    for place in PLACEMENTS:
        for p, c in CREWS:
            key = tuple(sorted({"place": place, "p": p, "c": c, "size": 64, "cap": 1024}.items()))
            by_t = throughput.get(key)
            if not by_t:
                continue
            ours = by_t.get("ringbuf")
            body.append((PLACEMENT_TEXT[place], f"{p} → {c} msgs/s",
                         fmt_cell(ours, "msgs_per_sec", fmt_rate)) +
                        tuple(fmt_cell(by_t.get(t), "msgs_per_sec", fmt_rate)
                              for t in README_PEERS) +
                        tuple(ratio_of(ours, by_t.get(t), "msgs_per_sec")
                              for t in ("boost_mq", "pipe", "spsc_busy")) +
                        (fmt_cpu(ours, by_t.get("boost_mq"), "cpu_us_per_msg"),))
        by_t = roundtrip.get(tuple(sorted({"place": place, "size": 64}.items())))
        if by_t:
            ours = by_t.get("ringbuf")
            body.append((PLACEMENT_TEXT[place], "round trip p50",
                         fmt_cell(ours, "p50_us", fmt_num)) +
                        tuple(fmt_cell(by_t.get(t), "p50_us", fmt_num)
                              for t in README_PEERS) +
                        tuple(ratio_of(ours, by_t.get(t), "p50_us", higher_is_better=False)
                              for t in ("boost_mq", "pipe", "spsc_busy")) +
                        (fmt_cpu(ours, by_t.get("boost_mq"), "cpu_us_per_roundtrip"),))
    idle = index(rows, "IdleWait")
    for by_t in idle.values():
        body.append(("—", "idle waiter, CPU µs per idle second",
                     fmt_cell(by_t.get("ringbuf"), "cpu_us_per_idle_sec", fmt_num)) +
                    tuple(fmt_cell(by_t.get(t), "cpu_us_per_idle_sec", fmt_num)
                          for t in README_PEERS) + ("", "", "", ""))
    repetitions = max((r.repetitions for r in rows), default=1)
    lines = [f"Produced by `{command}` "
             f"({datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}, "
             f"load average at the start {load}): 64 B messages, capacity 1024 "
             "asked of every transport, separate processes, every message verified. Each "
             f"cell is the median of {repetitions} repetitions and, in brackets, their range; "
             "the repetitions of all rows ran interleaved in random order in one run of one "
             "binary. Throughput in messages/s, round trip p50 in µs. **ringbuf ÷ X** is "
             "ringbuf's throughput over X's, or X's round trip over ringbuf's: above 1 ringbuf "
             "is better, in bold below. **cpu** is ringbuf's CPU per message (per round trip), "
             "all processes together, over Boost's: below 1 ringbuf uses less.", ""]
    lines += table(["placement", "workload", "ringbuf"] + README_PEERS +
                   ["ringbuf ÷ boost_mq", "ringbuf ÷ pipe", "ringbuf ÷ spsc_busy",
                    "cpu ringbuf / boost_mq"], body, text_columns=(0, 1))
    return lines


def fmt_cpu(ours, theirs, counter):
    if ours is None or theirs is None or ours.error or theirs.error:
        return "—"
    a, b = ours.get(counter), theirs.get(counter)
    return f"{a / b:.2f}" if a is not None and b else "—"


class Loss:
    """A row where a peer beat ringbuf, and whether that is beyond the noise."""

    def __init__(self, ratio, ours, theirs, text, counter):
        self.ratio = ratio
        self.text = text
        spreads = [ours.spread(counter), theirs.spread(counter)]
        self.within_noise = (None not in spreads and
                             abs(1 - ratio) <= spreads[0] + spreads[1])

    def line(self):
        noise = " — within the run-to-run spread" if self.within_noise else ""
        return f"- {self.text}: ringbuf at {self.ratio:.2f}× the peer{noise}"


# ---- Charts ----------------------------------------------------------------------

def pick_capacity(configs, **fixed):
    caps = {dict(k)["cap"] for k in configs
            if all(dict(k).get(a) == v for a, v in fixed.items())}
    return 1024 if 1024 in caps else (max(caps) if caps else None)


def value_of(configs, transport, counter, scale, **params):
    for key, by_transport in configs.items():
        if dict(key) == params and transport in by_transport:
            value = by_transport[transport].get(counter)
            return None if value is None else value / scale
    return None


def write_data(path, header, rows):
    with open(path, "w") as f:
        f.write(" ".join(f'"{h}"' for h in header) + "\n")
        for row in rows:
            f.write(" ".join("?" if v is None else (f'"{v}"' if isinstance(v, str) else f"{v:g}")
                             for v in row) + "\n")


GNUPLOT_PREAMBLE = """set terminal pngcairo size 900,540 font "sans,11" noenhanced
set datafile missing "?"
set key top left
"""


def charts(rows, out_dir):
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        print("report.py: gnuplot not found; no charts (bench/run_benchmarks.sh installs gnuplot-nox)",
              file=sys.stderr)
        return []
    configs = index(rows, "Throughput")
    made = []
    with tempfile.TemporaryDirectory() as tmp:
        configs = {k: v for k, v in configs.items() if place_of(dict(k)) == "none"}
        cap = pick_capacity(configs, size=64)
        if cap is not None:
            data = os.path.join(tmp, "producers.dat")
            write_data(data, ["crew"] + TRANSPORTS, [
                [f"{p}→{c}"] + [value_of(configs, t, "msgs_per_sec", 1e6, place="none", p=p,
                                         c=c, size=64, cap=cap) for t in TRANSPORTS]
                for p, c in CREWS
                if any(dict(k)["p"] == p and dict(k)["c"] == c for k in configs)])
            png = os.path.join(out_dir, "throughput_vs_producers.png")
            if run_gnuplot(gnuplot, GNUPLOT_PREAMBLE + f"""
set output "{png}"
set title "Throughput vs producers -> consumers (unpinned, 64 B messages, capacity {cap} asked)"
set ylabel "million messages / s"
set xlabel "producer processes -> consumer processes"
set style data histogram
set style histogram cluster gap 1
set style fill solid 0.85 border -1
set grid ytics
set yrange [0:*]
plot for [i=2:{1 + len(TRANSPORTS)}] "{data}" using i:xtic(1) title columnheader(i)
"""):
                made.append(png)
        cap = pick_capacity(configs, p=1, c=1)
        if cap is not None:
            sizes = sorted({dict(k)["size"] for k in configs
                            if dict(k)["p"] == 1 and dict(k)["c"] == 1 and dict(k)["cap"] == cap})
        if cap is not None and len(sizes) > 1:  # the README's run has only 64 B
            data = os.path.join(tmp, "sizes.dat")
            write_data(data, ["size"] + TRANSPORTS, [
                [size] + [value_of(configs, t, "bytes_per_sec", 1e6, place="none", p=1, c=1,
                                   size=size, cap=cap) for t in TRANSPORTS]
                for size in sizes])
            png = os.path.join(out_dir, "throughput_vs_size.png")
            if run_gnuplot(gnuplot, GNUPLOT_PREAMBLE + f"""
set output "{png}"
set title "Throughput vs message size (1 producer -> 1 consumer, capacity {cap} asked)"
set ylabel "MB/s (10^6 B), log scale"
set xlabel "message size, bytes (log scale)"
set logscale xy 2
set format y "%g"
set xrange [{sizes[0] / 1.5}:{sizes[-1] * 1.5}]
set xtics ({", ".join(f'"{s}" {s}' for s in sizes)})
set grid
plot for [i=2:{1 + len(TRANSPORTS)}] "{data}" using 1:i with linespoints lw 2 pt 7 \\
    title columnheader(i)
"""):
                made.append(png)
    return made


def run_gnuplot(gnuplot, script):
    result = subprocess.run([gnuplot], input=script, text=True, capture_output=True)
    if result.returncode != 0:
        print(f"report.py: gnuplot failed:\n{result.stderr}", file=sys.stderr)
        return False
    return True


# ---- Main ----------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json")
    parser.add_argument("--out", required=True)
    parser.add_argument("--command", required=True, help="the command that reproduces the run")
    parser.add_argument("--note", action="append", default=[],
                        help="a line for the limits section (repeatable)")
    args = parser.parse_args()

    context, rows = load(args.json)
    os.makedirs(args.out, exist_ok=True)
    throughput, losses = throughput_sections(rows)
    mixed, mixed_losses = throughput_sections(
        rows, "MixedPriority", "## Mixed priorities", MIXED_PRIORITY_TEXT)
    losses += mixed_losses
    roundtrip, roundtrip_losses = roundtrip_section(rows)
    losses += roundtrip_losses
    idle = idle_section(rows)
    pngs = charts(rows, args.out)
    start_load = context.get("load_avg")
    start_load = ", ".join(f"{x:.2f}" for x in start_load) if start_load else "?"
    readme_path = os.path.join(args.out, "README-table.md")
    with open(readme_path, "w") as f:
        f.write("\n".join(readme_table(rows, args.command, start_load)) + "\n")
    repetitions = max((r.repetitions for r in rows), default=1)

    lines = ["# ringbuf beside its peers: benchmark results", "",
             f"Reproduce: `{args.command}` from the workspace root. Written "
             f"{datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} by "
             f"`bench/report.py` from `{os.path.basename(args.json)}` "
             f"({repetitions} repetition{'s' if repetitions != 1 else ''} a row); the workloads "
             "are in `bench/queue_benchmark.cc`.", "",
             "Transports: **ringbuf** (`ringbuf::Queue`, blocking `Send`/`Receive`), "
             "**posix_mq** (`mq_send`/`mq_receive`), **boost_mq** "
             "(`boost::interprocess::message_queue`, Boost 1.74), **pipe** (`write`/`read` of "
             "whole messages). Every workload runs in separate processes (fork).", ""]
    lines += machine_section(context) + [""]
    lines += limits_section(context, args.note) + [""]
    for section in (throughput, mixed, roundtrip, idle):
        if section:
            lines += section + [""]
    lines += ["## Where ringbuf loses", ""]
    lines += [loss.line() for loss in sorted(losses, key=lambda l: l.ratio)] or [
        "Nowhere in this run."]
    lines += [""]
    if pngs:
        lines += ["## Charts", ""]
        lines += [f"![{os.path.splitext(os.path.basename(p))[0]}]({os.path.basename(p)})"
                  for p in pngs] + [""]
    path = os.path.join(args.out, "RESULTS.md")
    with open(path, "w") as f:
        f.write("\n".join(lines))
    print(f"report.py: wrote {path}, {readme_path}" + "".join(f", {p}" for p in pngs))


if __name__ == "__main__":
    main()
