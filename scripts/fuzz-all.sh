#!/usr/bin/env bash
# scripts/fuzz-all.sh - runs every fuzz target of the module, one at a time with one worker, and
# records what each one did. Not run by CI: with the defaults it takes about 80 minutes.
#
#   scripts/fuzz-all.sh [FUZZTIME]      FUZZTIME per target, as go test's -fuzztime (default 75s)
#
#   FUZZ_OUT       results file, tab-separated, one line per run appended (default fuzz-results.tsv
#                  in the temporary directory); the columns are in its header line
#   FUZZ_CACHE     fuzz cache directory (the generated corpus), kept between runs so a second run
#                  goes on from the first (default iroh-fuzzcache in the temporary directory)
#   FUZZ_MIN_CPU   CPU-seconds a target must get (default 60; 0 turns this off). On a busy machine
#                  a run gets less CPU than its fuzztime: each run's fuzztime is then raised from the
#                  CPU share the previous run got, and a run that still got too little is repeated,
#                  longer, up to twice. Targets FUZZ_OUT already records as ok with enough CPU are
#                  skipped, so an interrupted run resumes where it stopped.
#   FUZZ_SHARE     the CPU share to assume for the first run (default 1, an idle core)
#   FUZZ_MATCH     only the targets whose "package FuzzName" matches this extended regexp
#
# Each package's test binary is built once with fuzzing instrumentation before its first target
# runs, so compile time is not counted. CPU is user+sys of the test binary and its fuzz worker,
# measured by /usr/bin/time. A crash leaves the failing input in the package's testdata/fuzz/ (the
# fuzz cache itself is never written into the repository).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
root=$(pwd)

fuzztime=${1:-75s}
tmp=${TMPDIR:-/tmp}
out=${FUZZ_OUT:-$tmp/fuzz-results.tsv}
cache=${FUZZ_CACHE:-$tmp/iroh-fuzzcache}
mincpu=${FUZZ_MIN_CPU:-60}
match=${FUZZ_MATCH:-}
bindir=$(mktemp -d "$tmp/fuzz-all.XXXXXX")
trap 'rm -rf "$bindir"' EXIT

case $fuzztime in
*s) secs=${fuzztime%s} ;;
*m) secs=$((${fuzztime%m} * 60)) ;;
*) echo "fuzz-all: fuzztime $fuzztime: want seconds or minutes, like 75s or 2m" >&2; exit 2 ;;
esac

[ -x /usr/bin/time ] || { echo "fuzz-all: needs /usr/bin/time (Debian package time)" >&2; exit 2; }
[ -s "$out" ] || printf 'package\ttarget\tfuzztime_s\tcpu_s\texecs\texecs_per_cpu_s\tnew_interesting\tcorpus_total\tresult\n' >"$out"

# Targets in the order grep finds them: "dir FuzzName".
mapfile -t targets < <(grep -rn '^func Fuzz' --include='*_test.go' . |
  sed -E 's|^\./(.*)/[^/]*_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*|\1 \2|; s|^\./[^/]*_test\.go:[0-9]+:func (Fuzz[A-Za-z0-9_]*)\(.*|. \1|')

declare -A built
share=${FUZZ_SHARE:-1} # CPU-seconds per second of fuzztime the last clean run got
for t in "${targets[@]}"; do
  dir=${t% *} name=${t#* }
  if [ -n "$match" ] && ! [[ "$dir $name" =~ $match ]]; then continue; fi
  if [ "$mincpu" != 0 ] && awk -F'\t' -v d="$dir" -v n="$name" -v m="$mincpu" \
    '$1 == d && $2 == n && $9 == "ok" && $4 >= m { found = 1 } END { exit !found }' "$out"; then
    continue
  fi
  bin=$bindir/$(echo "$dir" | tr / _).test
  if [ -z "${built[$dir]:-}" ]; then
    if ! go test -c -fuzz=. -o "$bin" "./$dir" >"$bindir/build.log" 2>&1; then
      cat "$bindir/build.log" >&2
      printf '%s\t%s\t%s\t-\t-\t-\t-\t-\tbuild failed\n' "$dir" "$name" "$secs" >>"$out"
      continue
    fi
    built[$dir]=1
  fi

  run_secs=$secs
  if [ "$mincpu" != 0 ]; then
    run_secs=$(awk -v s="$secs" -v r="$share" -v m="$mincpu" \
      'BEGIN { n = m / r * 1.25 + 5; if (n < s) n = s; if (n > s * 3) n = s * 3; printf "%d", n }')
  fi
  for attempt in 1 2 3; do
    log=$bindir/run.log
    (cd "$root/$dir" && /usr/bin/time -f '%U %S' -o "$bindir/time" "$bin" -test.run '^$' \
      -test.fuzz "^$name\$" -test.fuzztime "${run_secs}s" -test.parallel 1 \
      -test.timeout "$((run_secs * 2 + 300))s" -test.fuzzcachedir "$cache/$dir/$name") >"$log" 2>&1
    rc=$?
    cpu=$(awk 'END { printf "%.1f", $1 + $2 }' "$bindir/time")
    last=$(grep 'execs:' "$log" | tail -1)
    execs=$(sed -nE 's/.*execs: ([0-9]+).*/\1/p' <<<"$last")
    newi=$(sed -nE 's/.*new interesting: ([0-9]+).*/\1/p' <<<"$last")
    total=$(sed -nE 's/.*\(total: ([0-9]+)\).*/\1/p' <<<"$last")
    rate=$(awk -v e="${execs:-0}" -v c="$cpu" 'BEGIN { if (c > 0) printf "%.0f", e / c; else print "-" }')
    if [ "$rc" = 0 ]; then
      result=ok
    else
      result="FAIL rc=$rc: $(grep -m1 -E 'Failing input written to|panic:|--- FAIL|fuzzing process hung|timed out' "$log" | tr '\t' ' ')"
      cp "$log" "$tmp/fuzz-fail-$(echo "$dir" | tr / _)-$name.log"
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$dir" "$name" "$run_secs" "$cpu" "${execs:--}" \
      "$rate" "${newi:--}" "${total:--}" "$result" >>"$out"
    if [ "$rc" = 0 ]; then # a crash ends the run early: its share means nothing
      share=$(awk -v c="$cpu" -v s="$run_secs" 'BEGIN { r = c / s; if (r < 0.2) r = 0.2; printf "%.3f", r }')
    fi
    # Repeat, longer, only a clean run that got too little CPU.
    if [ "$rc" != 0 ] || [ "$mincpu" = 0 ] ||
      awk -v c="$cpu" -v m="$mincpu" 'BEGIN { exit !(c >= m) }'; then
      break
    fi
    run_secs=$(awk -v s="$run_secs" -v c="$cpu" -v m="$mincpu" \
      'BEGIN { if (c < 1) c = 1; n = s * m / c * 1.15 + 5; if (n > s * 4) n = s * 4; printf "%d", n }')
  done
done
echo "fuzz-all: results in $out"
