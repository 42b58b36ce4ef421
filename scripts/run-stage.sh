#!/usr/bin/env bash
# Builds stage N's services and runs them as local processes with their logs
# prefixed; Ctrl-C stops them all. (The workshop CLI's `up` will replace this.)
set -euo pipefail
stage=${1:?usage: run-stage.sh N}
dir="stages/stage$stage"
[ -d "$dir" ] || { echo "no stage $stage; stages are 1-4" >&2; exit 2; }
bin="bin/stage$stage"
mkdir -p "$bin"
services=()
for s in die-service dice-roller frontend; do
	if [ -d "$dir/$s" ]; then
		(cd "$dir" && go build -o "../../$bin/$s" "./$s")
		services+=("$s")
	fi
done
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
for s in "${services[@]}"; do
	"$bin/$s" > >(sed -u "s/^/[$s] /") 2>&1 &
	pids+=($!)
	sleep 0.3
done
echo "stage $stage running: ${services[*]} (Ctrl-C stops them)"
wait
