#!/usr/bin/env bash
# `make demo`: run the example order pipeline on embedded SQLite and show its result and history.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="$here/../.venv/bin"
export STACKFLOW_HOME="${STACKFLOW_HOME:-$here/../.stackflow-demo}"
cd "$here"

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
echo "== stackflow stack plan app.stack.yaml --stack orders-app   (a stack: files, a database, a workflow, a custom resource)"
"$bin/stackflow" stack plan app.stack.yaml --stack orders-app

echo
echo "== stackflow stack apply app.stack.yaml --stack orders-app --yes"
"$bin/stackflow" stack apply app.stack.yaml --stack orders-app --yes

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
echo "Store: $STACKFLOW_HOME/stackflow.db (SQLite, WAL). Try: STACKFLOW_HOME=$STACKFLOW_HOME $bin/stackflow workflow list"
