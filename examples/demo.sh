#!/usr/bin/env bash
# `make demo`: run the example order pipeline on embedded SQLite and show its result and history,
# deploy the example stack (with a schedule), then start `stackflow server` and print its URL.
#
# On a terminal the server runs until Ctrl-C. Without one (CI, `make demo </dev/null`) it runs
# until the schedule's first execution has finished, at most DEMO_SECONDS (default 15) seconds.
#   DEMO_PORT     port of the API and web UI (default 8080; a free one when it is taken)
#   DEMO_SECONDS  seconds the server runs; 0 = until Ctrl-C (default on a terminal)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/../.venv/bin"
export STACKFLOW_HOME="${STACKFLOW_HOME:-$here/../.stackflow-demo}"
cd "$here"
schedule="orders-app-EveryMinute"
# The schedule's first run is due a few seconds from now (rate(1 minute) from its StartDate).
first_run="$("$bin/python" -c 'import datetime as d
t = d.datetime.now(d.timezone.utc) + d.timedelta(seconds=5)
print(t.strftime("%Y-%m-%dT%H:%M:%SZ"))')"

echo "== stackflow validate orders.asl.yaml"
"$bin/stackflow" validate orders.asl.yaml

echo
echo "== stackflow workflow run orders.asl.yaml --input @orders.input.json --name demo-<time>"
name="demo-$(date +%s)"
"$bin/stackflow" workflow run orders.asl.yaml --input @orders.input.json --name "$name"

id="$("$bin/stackflow" workflow list --workflow orders --limit 1 --json \
  | "$bin/python" -c 'import json,sys; print(json.load(sys.stdin)[0]["execution"])')"

echo
echo "== stackflow workflow history $id"
"$bin/stackflow" workflow history "$id"

echo
echo "== stackflow workflow describe $id"
"$bin/stackflow" workflow describe "$id"
echo
echo "== stackflow stack plan app.stack.yaml --stack orders-app --param ScheduleStart=$first_run"
echo "   (a stack: files, a database, a workflow, a schedule, a custom resource)"
"$bin/stackflow" stack plan app.stack.yaml --stack orders-app --param "ScheduleStart=$first_run"

echo
echo "== stackflow stack apply app.stack.yaml --stack orders-app --param ScheduleStart=$first_run --yes"
"$bin/stackflow" stack apply app.stack.yaml --stack orders-app --param "ScheduleStart=$first_run" --yes

echo
echo "== stackflow stack describe orders-app"
"$bin/stackflow" stack describe orders-app

echo
echo "== stackflow workflow run orders-app-orders (the workflow the stack deployed)"
"$bin/stackflow" workflow run orders-app-orders --input @orders.input.json --name "stack-$name"

echo
echo "== stackflow stack drift orders-app"
"$bin/stackflow" stack drift orders-app


echo
echo "== stackflow schedule describe $schedule"
"$bin/stackflow" schedule describe "$schedule"

# ---------------------------------------------------------------- the server
# Executions of the schedule before the server starts (a demo home is reused between runs).
scheduled_names() {
  "$bin/stackflow" workflow list --workflow orders-app-orders --json | "$bin/python" -c '
import json, sys
for record in json.load(sys.stdin):
    if record["name"].startswith(sys.argv[1] + "-"):
        print(record["name"], record["status"], record["execution"])
' "$schedule"
}
before="$(scheduled_names | cut -d' ' -f1)"

port="${DEMO_PORT:-8080}"
port="$("$bin/python" - "$port" <<'PY'
import socket, sys
wanted = int(sys.argv[1])
with socket.socket() as probe:
    try:
        probe.bind(("127.0.0.1", wanted))
    except OSError:
        probe.bind(("127.0.0.1", 0))
        print(f"port {wanted} is taken: using {probe.getsockname()[1]}", file=sys.stderr)
    print(probe.getsockname()[1])
PY
)"

if [ -n "${DEMO_SECONDS:-}" ]; then seconds="$DEMO_SECONDS"
elif [ -t 0 ]; then seconds=0
else seconds=15
fi

server_pid=""
stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2>/dev/null; then
    kill -INT "$server_pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "the server did not stop within 15 s: killing it" >&2
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap stop_server EXIT
trap 'echo; echo "== Ctrl-C: stopping the server"; stop_server; exit 0' INT TERM

echo
echo "== stackflow server --port $port   (API, web UI, executions, schedules, services)"
"$bin/stackflow" server --port "$port" &
server_pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 300); do
  if "$bin/python" -c 'import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/api/v1/health", timeout=1)' "$url" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    wait "$server_pid" || true
    server_pid=""
    echo "error: the server exited before it served $url" >&2
    exit 1
  fi
  sleep 0.1
done

echo
echo "   Web UI:  $url/"
echo "   API:     $url/api/v1/   (OpenAPI: $url/openapi.json)"
echo "   Store:   $STACKFLOW_HOME/stackflow.db (SQLite, WAL)"
if [ "$seconds" = 0 ]; then
  echo "   The schedule $schedule starts the order workflow every minute. Ctrl-C stops the server."
else
  echo "   Not on a terminal: the server runs until the schedule's first run finishes (at most ${seconds} s)."
fi

# Show the schedule's first execution; then wait for Ctrl-C (or the end of DEMO_SECONDS).
start=$SECONDS
shown=""
while :; do
  if [ "$seconds" != 0 ] && [ $((SECONDS - start)) -ge "$seconds" ]; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    code=0; wait "$server_pid" || code=$?
    server_pid=""
    echo "error: the server stopped on its own (exit code $code)" >&2
    exit 1
  fi
  if [ -z "$shown" ]; then
    while read -r name status id; do
      if [ -n "$name" ] && ! grep -qxF "$name" <<<"$before" && [ "$status" != RUNNING ]; then
        echo
        echo "== the schedule started $name: $status"
        "$bin/stackflow" workflow describe "$id"
        echo
        echo "   $url/executions/$id"
        shown="$name"
        break
      fi
    done < <(scheduled_names)
    if [ -n "$shown" ] && [ "$seconds" != 0 ]; then break; fi
  fi
  sleep 1
done

echo
echo "== stopping the server"
stop_server
if [ -z "$shown" ]; then
  echo "error: the schedule $schedule started no execution within ${seconds} s" >&2
  exit 1
fi
echo "Try: STACKFLOW_HOME=$STACKFLOW_HOME $bin/stackflow workflow list"
