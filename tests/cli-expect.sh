# cli-expect.sh — sourced by the command-line tests (test-cli.sh, test-evaluate.sh,
# onnx/test-import-cli.sh): a scratch folder $tmp, the pass/fail counts, and running one command
# the way tools/cli.h says every command behaves (exit status 0, 1 usage, 2 bad input; on failure
# one line on stderr).

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0

# run_as WANT COMMAND...: runs COMMAND with stdout in $tmp/out and stderr in $tmp/err, its exit
# status in $got; true when that is WANT and, unless WANT is 0, stderr holds exactly one line.
run_as () {
  want=$1
  shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  got=$?
  lines=$(wc -l <"$tmp/err")
  [ "$got" -eq "$want" ] && { [ "$want" -eq 0 ] || [ "$lines" -eq 1 ]; }
}

# expect STATUS PATTERN COMMAND...: runs COMMAND, checks its exit status, that stderr has exactly
# one line unless STATUS is 0, and that stderr matches PATTERN (an extended regex; "" for no
# check).
expect () {
  want=$1 pattern=$2
  shift 2
  if run_as "$want" "$@" && { [ -z "$pattern" ] || grep -Eq -- "$pattern" "$tmp/err"; }; then
    pass
  else
    fail "FAIL: $* -> status $got (want $want), stderr:"
    cat "$tmp/err" >&2
  fi
}

# pass; fail MESSAGE: counts a check (fail prints MESSAGE on stderr).
pass () {
  passed=$((passed + 1))
}

fail () {
  failed=$((failed + 1))
  echo "$1" >&2
}

# finish: the summary line; the test's exit status.
finish () {
  echo "$passed passed, $failed failed"
  [ "$failed" -eq 0 ]
}
