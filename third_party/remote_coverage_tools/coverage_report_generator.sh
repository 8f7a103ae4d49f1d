#!/usr/bin/env bash
# Minimal stand-in for Bazel's coverage report generator: concatenates the
# per-test lcov files listed in --reports_file into --output_file.
set -euo pipefail
reports_file="" output_file=""
for arg in "$@"; do
  case "$arg" in
    --reports_file=*) reports_file="${arg#*=}" ;;
    --output_file=*) output_file="${arg#*=}" ;;
  esac
done
[[ -n "$output_file" ]] || { echo "coverage_report_generator stand-in: --output_file missing" >&2; exit 1; }
: > "$output_file"
if [[ -n "$reports_file" && -f "$reports_file" ]]; then
  while IFS= read -r f; do
    [[ -n "$f" && -f "$f" ]] && cat "$f" >> "$output_file"
  done < "$reports_file"
fi
