#!/bin/sh
# The test command: build segcam and run every test (meson test). Options:
#   --sanitize    also build with AddressSanitizer + UBSan in build-san/ and run the suite there
#   --fuzz SECS   also run each libFuzzer target for SECS seconds (clang, build-fuzz/)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
sanitize=no
fuzz=0
while [ $# -gt 0 ]; do
  case "$1" in
    --sanitize) sanitize=yes ;;
    --fuzz) fuzz=$2; shift ;;
    *) echo "run-tests.sh: unknown option $1" >&2; exit 1 ;;
  esac
  shift
done

BUILD_DIR=$top/build sh "$top/tools/build.sh"
meson test -C "$top/build" --print-errorlogs

if [ "$sanitize" = yes ]; then
  # The slow PyTorch cross-check runs once, above; under the sanitizers the unit and CLI tests do.
  BUILD_DIR=$top/build-san sh "$top/tools/build.sh" -Db_sanitize=address,undefined -Db_lundef=false \
    -Dbuildtype=debugoptimized -Dplugin=disabled
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  # The engine is leak-checked; the command line loads GEGL's codec modules, whose libraries
  # (libpng, freetype, ICU, ffmpeg...) keep allocations for the life of the process.
  ASAN_OPTIONS=detect_leaks=1 meson test -C "$top/build-san" --print-errorlogs --no-suite reference \
    --no-suite cli
  ASAN_OPTIONS=detect_leaks=0 meson test -C "$top/build-san" --print-errorlogs --suite cli
fi

if [ "$fuzz" -gt 0 ]; then
  BUILD_DIR=$top/build-fuzz CC=clang sh "$top/tools/build.sh" -Dfuzz=true -Dplugin=disabled \
    -Dtools=disabled -Dbuildtype=debugoptimized
  for target in "$top"/build-fuzz/tests/fuzz/fuzz-*; do
    [ -f "$target" ] && [ -x "$target" ] || continue
    name=$(basename "$target")
    corpus=$(mktemp -d)
    cp "$top/tests/fuzz/corpus-${name#fuzz-}"/* "$corpus"/
    status=0
    # Inputs up to 256 KB: the nesting reproducers of issue 12 are 100-200 KB, beyond the cap
    # libFuzzer would take from the seeds. The dictionary holds JSON's tokens and segcam's names.
    "$target" -max_total_time="$fuzz" -print_final_stats=1 -max_len=262144 \
      -dict="$top/tests/fuzz/json.dict" "$corpus" >"$corpus.log" 2>&1 || status=$?
    echo "$name: $(grep -E '^stat::number_of_executed_units' "$corpus.log" | tr -s ' ')"
    if [ "$status" -ne 0 ]; then
      tail -n 40 "$corpus.log"
      echo "$name: the fuzzer found a failure (exit $status)" >&2
      exit 1
    fi
    rm -rf "$corpus" "$corpus.log"
  done
fi
