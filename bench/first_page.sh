#!/usr/bin/env bash
# A newcomer's first run: clone this checkout's HEAD into a temporary directory, start
# `make run`, and time it until http://127.0.0.1:$PORT/ answers 200.
#   bench/first_page.sh                      # PORT=8080 unless set
#   PORT=8093 PIP_NO_CACHE_DIR=1 bench/first_page.sh
#   REV=0edd684 bench/first_page.sh          # an older commit, for comparison
# `make run`'s output is printed afterwards, each line with the seconds since the start, which
# shows where the time went (venv, pip, start-up).
set -euo pipefail

port=${PORT:-8080}
source_dir=$(git -C "$(dirname "$0")/.." rev-parse --show-toplevel)
if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  echo "Port $port is taken; run with PORT=another-port" >&2
  exit 1
fi

work=$(mktemp -d)
git clone -q "$source_dir" "$work/p"
cd "$work/p"
git checkout -q "${REV:-HEAD}"

start=${EPOCHREALTIME/./}  # microseconds
seconds() {
  local elapsed=$((${EPOCHREALTIME/./} - start))
  printf '%d.%d' $((elapsed / 1000000)) $((elapsed / 100000 % 10))
}
set -m  # the background job gets its own process group, so one kill stops make and the app
(PORT=$port make run 2>&1 | while IFS= read -r line; do
  printf '%6s s  %s\n' "$(seconds)" "$line"
done >"$work/run.log") &
job=$!
disown "$job"  # no 'Terminated' notice when it is stopped at the end
trap 'kill -- -$job 2>/dev/null || true; rm -rf "$work"' EXIT

until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/")" = 200 ]; do
  if ! kill -0 "$job" 2>/dev/null; then
    cat "$work/run.log"
    echo "make run stopped before serving a page" >&2
    exit 1
  fi
  sleep 0.2
done
elapsed=$(seconds)

cat "$work/run.log"
echo "fresh clone -> first page (HTTP 200): $elapsed s"
