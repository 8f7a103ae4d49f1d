#!/usr/bin/env bash
# Runs the pytest suite of python/tests under /usr/bin/python3 (Debian's, with
# python3-pytest) against the extension Bazel built, assembled with the
# package's .py files into a scratch package directory.
#
#   run_pytest.sh EXTENSION_SO CPP_PEER SANITIZER_PROBE [PYTEST_ARG...]
#
# The first three are runfiles paths; the rest go to pytest (python_test and
# python_owner_test select by marker).
#
# Sanitizer builds are skipped (exit 0, with a message): a plain python3
# cannot load an instrumented extension. pytest's exit code is the result;
# "no tests collected" (5) fails too.
set -euo pipefail

ext="$1"
peer="$2"
probe="$3"
shift 3

if [[ "$("${probe}")" == 1 ]]; then
  echo "SKIPPED: sanitizer build; python3 cannot load the instrumented _ringbuf.so"
  exit 0
fi

pkg="${TEST_TMPDIR:-$(mktemp -d)}/site"
mkdir -p "${pkg}/ringbuf"
cp python/ringbuf/*.py "${pkg}/ringbuf/"
cp "${ext}" "${pkg}/ringbuf/_ringbuf.so"

export PYTHONPATH="${pkg}"
export RINGBUF_CPP_PEER="${PWD}/${peer}"
export PYTHONDONTWRITEBYTECODE=1
cd "${pkg}"
exec /usr/bin/python3 -m pytest -p no:cacheprovider -q "$@" "${OLDPWD}/python/tests"
