#!/usr/bin/env bash
# Minimal stand-in for Bazel's LcovMerger: concatenates every *.dat lcov
# tracefile found under --coverage_dir into --output_file. Other flags ignored.
set -euo pipefail
coverage_dir="" output_file=""
for arg in "$@"; do
  case "$arg" in
    --coverage_dir=*) coverage_dir="${arg#*=}" ;;
    --output_file=*) output_file="${arg#*=}" ;;
  esac
done
[[ -n "$output_file" ]] || { echo "lcov_merger stand-in: --output_file missing" >&2; exit 1; }
: > "$output_file"
if [[ -n "$coverage_dir" && -d "$coverage_dir" ]]; then
  find "$coverage_dir" -type f -name '*.dat' ! -path "$output_file" -print0 |
    sort -z | xargs -0 -r cat >> "$output_file"
fi
echo "lcov_merger stand-in (offline): only *.dat lcov files are merged" >&2
