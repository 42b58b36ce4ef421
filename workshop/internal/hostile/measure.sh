#!/bin/sh
# Measures `workshop up 1` under issue 14's hostile inputs (Linux: reads
# /proc). Not a test: figures for BENCHMARKS.md. Run from the workshop
# module:   internal/hostile/measure.sh WORKSHOP_BINARY REPO_ROOT
# It prints the CLI's peak RSS before and after 120 traces with a 15 MB
# attribute, the size of a 100 KB die's error answer, and the size and time
# of /logs after 200 log lines of 1 MB.
set -eu
ws=$1 root=$2
otlp=43180 viewer=43190
out=$(mktemp)
flood=$(mktemp -d)/flood
go build -o "$flood" ./internal/hostile/flood
(cd "$root" && exec "$ws" up 1 --otlp-port $otlp --viewer-port $viewer >"$out" 2>&1) &
pid=$!
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$out" "$flood"' EXIT
i=0
until grep -q "Ctrl-C stops everything" "$out"; do
	i=$((i + 1)); [ $i -lt 600 ] || { cat "$out"; exit 1; }; sleep 0.2
done

die=$(head -c 102400 /dev/zero | tr '\0' d)
printf 'echo: a 100 KB die answered with %s bytes\n' "$(curl -s "http://127.0.0.1:8100/roll?die=$die" | wc -c)"
start=$(date +%s)
"$flood" -url http://127.0.0.1:$otlp -pid $pid -attr 120
echo "flood of 120 x 15 MB took $(($(date +%s) - start)) s"
"$flood" -url http://127.0.0.1:$otlp -logs 200 >/dev/null
t0=$(date +%s.%N)
size=$(curl -s "http://127.0.0.1:$viewer/logs" | wc -c)
t1=$(date +%s.%N)
printf '/logs after 200 lines of 1 MB: %s bytes in %.2f s\n' "$size" "$(echo "$t1 - $t0" | bc)"
grep -m1 "VmHWM" /proc/$pid/status
