# What every bench script uses. Source it from the repository root.

say() { printf '\n== %s\n' "$*" >&2; }
# CPU ticks used so far by the processes named $1 (pgrep -x), or whose command line matches $1
# with `ticks_of PATTERN -f`.
ticks_of() { local t=0 p; for p in $(pgrep "${2:--x}" "$1"); do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
