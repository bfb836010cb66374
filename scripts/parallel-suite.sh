#!/usr/bin/env bash
# Runs the whole test suite twice at the same time on this machine, as a check that no test
# depends on an idle machine (ports, temporary files, timing). Both runs must pass.
# PostgreSQL: each run's global setup starts a throw-away cluster of its own (own folder, own
# free port), unless ZHEDEL_TEST_PG names a server: then both use it, each test file in a
# database of its own. The prerequisites are made ready once, before both runs, so that the two
# never install packages at the same time.
# Usage: npm run test:parallel   (extra arguments go to both runs, e.g. a test file)
set -uo pipefail
cd "$(dirname "$0")/.."
node scripts/test-prereqs.mjs || exit 1
out=$(mktemp -d)
npx vitest run "$@" >"$out/a.log" 2>&1 &
a=$!
npx vitest run "$@" >"$out/b.log" 2>&1 &
b=$!
wait $a; ra=$?
wait $b; rb=$?
for run in a b; do
  echo "== run $run"
  grep -E '^PostgreSQL|Test Files|Tests |FAIL|✗|×' "$out/$run.log" | sed 's/\x1b\[[0-9;]*m//g' | head -40
done
rm -rf "$out"
if [ $ra -ne 0 ] || [ $rb -ne 0 ]; then
  echo "parallel suite: FAILED (exit codes $ra and $rb)"
  exit 1
fi
echo "parallel suite: both runs passed"
