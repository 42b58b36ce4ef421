#!/bin/sh
# Measures `workshop check 1 --runtime local` on stage 1 with the log-loop
# fixture (internal/session/testdata/logloop.go.txt) in its dice-roller
# (Linux: reads /proc). Not a test: figures for BENCHMARKS.md.
#   internal/hostile/measure-logloop.sh WORKSHOP_BINARY REPO_ROOT
set -eu
ws=$1 root=$2
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d)/stage1
cp -r "$root/stages/stage1" "$dir"
rm -rf "$dir/bin"
cp "$here/../session/testdata/logloop.go.txt" "$dir/dice-roller/logloop.go"
out=$(mktemp)
start=$(date +%s.%N)
"$ws" check 1 "$dir" --runtime local >"$out" 2>&1 &
pid=$!
# VmHWM only grows: its last reading before the exit is the peak (sampled
# here rather than by time -v, which reports the largest child: the linker).
peak=0
while hwm=$(awk '/VmHWM/ {print $2}' /proc/$pid/status 2>/dev/null) && [ -n "$hwm" ]; do
	peak=$hwm
	sleep 0.02
done
wait $pid || true
printf 'check under a log loop: peak RSS %s kB, %.1f s\n' "$peak" "$(echo "$(date +%s.%N) - $start" | bc)"
grep -E "checks pass|earlier lines" "$out" | head -3
rm -rf "$(dirname "$dir")" "$out"
