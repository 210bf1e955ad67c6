#!/usr/bin/env bash
# Mutation testing of the modules whose logic decides results, with cargo-mutants: each mutant
# (an operator flipped, a function body replaced by a default) is built and run against the
# tests named for its module; a mutant no test notices is "missed". On demand, not in CI: on two
# cores a module takes minutes.
#
#   scripts/mutants.sh              # every module below
#   scripts/mutants.sh decode ack   # only these
#   JOBS=2 TIMEOUT=120 scripts/mutants.sh tally
#
# Each module's caught / missed / unviable / timeout counts replace its row of the table in
# RELIABILITY.md ("Mutation testing"); the missed mutants themselves are listed in
# mutants.out/<module>/mutants.out/missed.txt. With JOBS=1 (the default) the working tree is
# mutated in place so the existing target/ is reused: do not edit sources while it runs
# (cargo-mutants puts every file back when it ends, also on Ctrl-C). JOBS>1 builds copies of
# the tree instead, each from scratch.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-1}
TIMEOUT=${TIMEOUT:-120}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-600}
REPORT=RELIABILITY.md

# module | package | source files (space-separated) | test targets (cargo test arguments: only
# these are built and run for each mutant)
MODULES=(
  "decode|vote-engine|engine/src/decode.rs|--lib"
  "batch|vote-engine|engine/src/batch.rs|--lib"
  "ack|vote-engine|engine/src/ack.rs|--lib"
  "pipeline|vote-engine|engine/src/pipeline/machine.rs|--lib"
  "columns|vote-engine|engine/src/store/columns.rs|--lib"
  "store-errors|vote-engine|engine/src/store/error.rs|--lib --test=it store"
  "recent_keys|vote-engine|engine/src/store/recent_keys.rs|--lib"
  "codec|vote-mq|mq/src/bulk/codec.rs|--lib"
  "expected|vote-loadgen|loadgen/src/expected.rs|--lib"
  "model|vote-loadgen|loadgen/src/model.rs|--lib"
  "verify|vote-loadgen|loadgen/src/verify.rs|--lib --test=it verify"
  "tally|vote-satellite-poll|satellites/poll/src/tally/mod.rs satellites/poll/src/tally/plurality.rs satellites/poll/src/tally/irv.rs|--lib"
)

command -v cargo-mutants >/dev/null || cargo install cargo-mutants --locked

# Whether module $1 is among the ones asked for (all when none is named).
selected() {
  local module=$1
  shift
  [ $# -eq 0 ] && return 0
  for name in "$@"; do [ "$name" = "$module" ] && return 0; done
  return 1
}

# Replaces (or adds) the row of `module` between the table markers of $REPORT.
record() {
  local module=$1 row=$2
  awk -v key="| \`$module\` |" -v row="$row" '
    /<!-- mutants:end -->/ { if (!done) print row; done = 1 }
    index($0, key) == 1 { if (!done) print row; done = 1; next }
    { print }
  ' "$REPORT" >"$REPORT.tmp"
  mv "$REPORT.tmp" "$REPORT"
}

count() { if [ -s "$1" ]; then grep -c . "$1"; else echo 0; fi; }

grep -q '<!-- mutants:end -->' "$REPORT" || { echo "$REPORT has no mutants table markers" >&2; exit 1; }

for spec in "${MODULES[@]}"; do
  IFS='|' read -r module package files tests <<<"$spec"
  selected "$module" "$@" || continue
  missing=""
  for f in $files; do [ -f "$f" ] || missing="$missing $f"; done
  if [ -n "$missing" ]; then
    echo "== $module: skipped, not in this tree:$missing" >&2
    continue
  fi
  out=mutants.out/$module
  rm -rf "$out"
  mkdir -p "$out"
  args=(mutants -p "$package" --timeout "$TIMEOUT" --build-timeout "$BUILD_TIMEOUT" -o "$out")
  if [ "$JOBS" -gt 1 ]; then args+=(-j "$JOBS"); else args+=(--in-place); fi
  for f in $files; do args+=(-f "$f"); done
  for t in $tests; do args+=(-C "$t"); done
  echo "== $module: cargo ${args[*]}"
  start=$SECONDS
  status=0
  cargo "${args[@]}" || status=$?
  # 0: all caught, 2: some missed, 3: some timed out; anything else (4: the tests fail
  # without a mutant) means the figures would be wrong.
  case $status in 0 | 2 | 3) ;; *) echo "cargo mutants failed ($status) for $module" >&2; exit "$status" ;; esac
  dir=$out/mutants.out
  caught=$(count "$dir/caught.txt")
  missed=$(count "$dir/missed.txt")
  unviable=$(count "$dir/unviable.txt")
  timeout=$(count "$dir/timeout.txt")
  total=$((caught + missed + unviable + timeout))
  minutes=$(((SECONDS - start + 30) / 60))
  record "$module" "| \`$module\` | \`${files// /\`, \`}\` | \`cargo test -p $package $tests\` | $total | $caught | $missed | $unviable | $timeout | $minutes min |"
  echo "$module: $caught caught, $missed missed, $unviable unviable, $timeout timeout"
  [ "$missed" -eq 0 ] || sed 's/^/  missed: /' "$dir/missed.txt"
done
