#!/usr/bin/env bash
# Runs every libFuzzer harness for a bounded time on the committed seeds plus
# the real recordings in ../shared/data/real (read in place, never copied).
#
#   fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET] [PARALLEL]
#
# New inputs go to BUILD_DIR/fuzz-corpus/<target> (scratch, not committed);
# a crash leaves its input in BUILD_DIR/fuzz-artifacts/ and fails the run.
# Each input may take at most 10 s and allocate at most 256 MB in one call:
# inputs are at most 512 kB, so anything larger means a reader believed a
# header instead of the file size. Longer corpus files are cut to the
# target's length limit when loaded (a prefix of a real text recording is
# still a valid one, and short inputs keep the executions fast).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS] [PARALLEL]}"
SECONDS_PER_TARGET="${2:-60}"
PARALLEL="${3:-1}"
REAL="$(cd "$ROOT/.." && pwd)/shared/data/real"

# target -> real-data folders passed as extra corpora (if present)
declare -A REAL_DIRS=(
  [edf]="mne-python-edf-bdf"
  [wfdb]="physionet-emgdb"
  [npy]=""
  [csv]="biosppy-emg physionet-emgdb"
  [stream]=""
  [manifest]=""
)
# target -> maximum input length in bytes (test.bdf, 467 kB, stays whole)
declare -A MAX_LEN=([edf]=524288 [wfdb]=65536 [npy]=65536 [csv]=65536 [stream]=4096 [manifest]=65536)

targets=()
for t in edf wfdb npy csv stream manifest; do
  [ -x "$BUILD/fuzz/fuzz_$t" ] && targets+=("$t")
done
[ ${#targets[@]} -gt 0 ] || { echo "no fuzzers in $BUILD/fuzz (configure with -DFASCTRACK_BUILD_FUZZERS=ON)" >&2; exit 2; }

mkdir -p "$BUILD/fuzz-artifacts" "$BUILD/fuzz-logs"
run_one() {
  local t="$1"
  local corpus="$BUILD/fuzz-corpus/$t"
  mkdir -p "$corpus"
  local dirs=("$corpus" "$ROOT/fuzz/corpus/$t")
  for d in ${REAL_DIRS[$t]}; do
    [ -d "$REAL/$d" ] && dirs+=("$REAL/$d")
  done
  local log="$BUILD/fuzz-logs/$t.log"
  local rc=0
  ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:allocator_may_return_null=0" \
  UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$BUILD/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -malloc_limit_mb=256 \
      -rss_limit_mb=2048 -max_len="${MAX_LEN[$t]}" -print_final_stats=1 \
      -artifact_prefix="$BUILD/fuzz-artifacts/$t-" "${dirs[@]}" >"$log" 2>&1 || rc=$?
  local execs
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -Eo '[0-9]+$' || echo "?")
  if [ $rc -ne 0 ]; then
    echo "fuzz_$t: FAILED (exit $rc) after $execs executions; log $log" >&2
    grep -E 'ERROR|SUMMARY|violated|does not name|Test unit written' "$log" | head -20 >&2 || true
    return 1
  fi
  echo "fuzz_$t: $execs executions in ${SECONDS_PER_TARGET} s, no crash"
}
export -f run_one
export BUILD ROOT REAL SECONDS_PER_TARGET
export REAL_DIRS_SERIALISED="$(declare -p REAL_DIRS MAX_LEN)"

status=0
printf '%s\n' "${targets[@]}" | xargs -P "$PARALLEL" -I{} bash -c 'eval "$REAL_DIRS_SERIALISED"; run_one "$1"' _ {} || status=$?
exit $status
