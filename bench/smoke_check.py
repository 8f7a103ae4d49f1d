"""Checks the JSON of the benchmark smoke run (see smoke_test.sh).

Usage: smoke_check.py RESULTS.json EXPECTED_ROWS

Passes when there are EXPECTED_ROWS rows, no row failed, every row that ran
has figures, and ringbuf itself was never skipped. A peer's row that says
"unavailable: ..." (the transport cannot be had here) is printed and skipped.
"""
import json
import sys


def main(path, expected_rows):
    with open(path) as f:
        rows = json.load(f)["benchmarks"]
    problems = []
    for row in rows:
        name = row["name"]
        transport = name.split("/")[1]
        message = row.get("error_message", "")
        if not row.get("error_occurred"):
            if not row.get("msgs_per_sec", 0) > 0 or not row.get("capacity_got", 0) > 0:
                problems.append(f"{name}: no figures")
            else:
                print(f"ok       {name}: {row['msgs_per_sec']:.0f} msgs/s, "
                      f"capacity got {row['capacity_got']:.0f}")
        elif message.startswith("unavailable:") and transport != "ringbuf":
            print(f"SKIPPED  {name}: {message}")
        else:
            problems.append(f"{name}: {message}")
    if len(rows) != expected_rows:
        problems.append(f"expected {expected_rows} rows, got {len(rows)}")
    for problem in problems:
        print(f"FAILED   {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], int(sys.argv[2])))
