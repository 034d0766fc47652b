"""``stackflow workflow graph ID``: an execution's history as a graph (JSON or a text outline).

Code executions (``@stackflow.workflow``) get one node per operation with parallel groups
(:func:`stackflow.workflow.code.graph.history_graph`); ASL executions one node per state
entered, with Parallel branches and Map item processors under their state
(:func:`stackflow.workflow.code.graph.asl_history_graph`).
"""

from __future__ import annotations

from typing import Any

import click

from stackflow.cli.output import print_json
from stackflow.cli.workflow_commands import home_option, json_option, open_engine
from stackflow.views import execution_graph as execution_graph

_MARKS = {
    "succeeded": "ok",
    "failed": "FAILED",
    "running": "running",
    "retrying": "retrying",
    "aborted": "aborted",
}


def _describe(node: dict[str, Any]) -> str:
    mark = _MARKS.get(node["status"], node["status"])
    text = f"{node['label']} [{node['kind']}] {mark}"
    if node.get("attempts", 1) > 1:
        text += f", {node['attempts']} {'entries' if 'parent' in node else 'attempts'}"
    if node.get("error"):
        text += f": {node['error']}"
    if node.get("timed_out"):
        text += " (timed out)"
    return text


def outline(graph: dict[str, Any]) -> list[str]:
    """Return a readable outline of a graph: one line per node, members indented.

    Args:
        graph: A graph from :func:`execution_graph`.
    """
    lines = [f"{graph['type']} execution, {graph['status']}"]
    nodes = [n for n in graph["nodes"] if n["kind"] not in ("start", "end")]
    if graph["type"] == "code":
        for node in nodes:
            if node["kind"] == "parallel":
                count = len(node["members"])
                lines.append(f"  = in parallel ({count}): {node['label']} {node['status']}")
            elif node.get("group"):
                lines.append(f"    | #{node['step']} {_describe(node)}")
            else:
                lines.append(f"  #{node['step']} {_describe(node)}")
        return lines

    children: dict[str | None, list[dict[str, Any]]] = {}
    for node in nodes:
        children.setdefault(node.get("parent"), []).append(node)

    def show(parent: str | None, level: int) -> None:
        for node in children.get(parent, []):
            branch = "" if node.get("branch") is None else f"branch {node['branch']}: "
            lines.append(f"  {'    ' * level}{branch}{_describe(node)}")
            show(node["label"], level + 1)

    show(None, 0)
    return lines


@click.command("graph")
@click.argument("execution_id", metavar="ID")
@json_option
@home_option
@click.pass_context
def graph(ctx: click.Context, execution_id: str, as_json: bool, home: str | None) -> None:
    """Show an execution's history as a graph: nodes in order, parallel work side by side.

    For a code workflow: one node per step, sleep, event wait, child or patch, with steps that
    ran at the same time (step.map, submit/gather) grouped. For an ASL workflow: one node per
    state entered, Parallel branches and Map iterations under their state.
    """
    with open_engine(ctx, home) as engine:
        record = engine.describe(execution_id)  # unknown id -> NotFoundError
        events = engine.history(execution_id)
    result = execution_graph(record.definition, events)
    if as_json:
        print_json({"execution": execution_id, **result})
        return
    for line in outline(result):
        click.echo(line)
