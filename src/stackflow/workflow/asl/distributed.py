"""Distributed Map specifics: ItemReader, ItemBatcher and ResultWriter, as commands and data.

Reading items and writing results are I/O, so the interpreter only evaluates the blocks and asks
the runtime to do them (``ReadItems``, ``WriteResults``); batching is pure and happens here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stackflow.types import JSON, JSONObject
from stackflow.workflow.asl import dataflow
from stackflow.workflow.asl.execstate import ExecState, Frame, ReadItems, WriteResults
from stackflow.workflow.asl.item_batcher import batch_items

if TYPE_CHECKING:
    from stackflow.workflow.asl.interpreter import Interpreter

#: Child executions running at once when a Distributed Map sets no MaxConcurrency. AWS allows up
#: to 10,000; stackflow runs children in one process by default, so it starts fewer at a time.
DEFAULT_DISTRIBUTED_CONCURRENCY = 1000


def is_distributed(state: JSONObject) -> bool:
    """Return True for a Map whose processor runs in DISTRIBUTED mode."""
    inner = state.get("ItemProcessor", state.get("Iterator"))
    if not isinstance(inner, dict):
        return False
    config = inner.get("ProcessorConfig") or {}
    return isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED"


def _evaluate_block(
    interp: Interpreter,
    st: ExecState,
    frame: Frame,
    state: JSONObject,
    block: JSONObject,
    name: str,
) -> JSONObject:
    """Evaluate the Parameters (JSONPath) or Arguments (JSONata) of an ItemReader/ResultWriter."""
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    result = {k: v for k, v in block.items() if k not in ("Parameters", "Arguments")}
    if interp.is_jsonata(frame, state):
        if "Arguments" in block:
            states = dataflow.jsonata_states(frame.input, ctx)
            result["Parameters"] = dataflow.jsonata_value(
                block["Arguments"], states, variables, f"{name}/Arguments"
            )
        return result
    if "Parameters" in block:
        result["Parameters"] = dataflow.evaluate_template(
            block["Parameters"],
            frame.data.get("effective", frame.input),
            context=ctx,
            variables=variables,
            field=f"{name}.Parameters",
        )
    return result


def read_command(interp: Interpreter, st: ExecState, frame: Frame, state: JSONObject) -> ReadItems:
    """Return the command that reads the Map's items, registering its token."""
    reader = _evaluate_block(interp, st, frame, state, state["ItemReader"], "ItemReader")
    token = interp.new_token(st, frame, "i")
    frame.token = token
    return ReadItems(token, reader)


def batch(
    interp: Interpreter, st: ExecState, frame: Frame, state: JSONObject, items: list[JSON]
) -> list[JSON]:
    """Group items into batches when the Map has an ItemBatcher (else return them as they are)."""
    batcher = state.get("ItemBatcher")
    if not isinstance(batcher, dict):
        return items
    variables = interp.variables(st, frame)
    ctx = interp.maybe_context(st, frame)
    resolved: dict[str, Any] = dict(batcher)
    batch_input: JSON = None
    effective = frame.data.get("effective", frame.input)
    if interp.is_jsonata(frame, state):
        states = dataflow.jsonata_states(frame.input, ctx)
        for key in ("MaxItemsPerBatch", "MaxInputBytesPerBatch", "BatchInput"):
            if key in resolved:
                resolved[key] = dataflow.jsonata_value(
                    resolved[key], states, variables, f"ItemBatcher/{key}"
                )
        batch_input = resolved.pop("BatchInput", None)
    else:
        for key in ("MaxItemsPerBatch", "MaxInputBytesPerBatch"):
            path = resolved.pop(key + "Path", None)
            if path is not None:
                resolved[key] = dataflow.select_path(
                    effective, path, context=ctx, variables=variables
                )
        if "BatchInput" in resolved:
            batch_input = dataflow.evaluate_template(
                resolved.pop("BatchInput"),
                effective,
                context=ctx,
                variables=variables,
                field="ItemBatcher.BatchInput",
            )
    return batch_items(items, resolved, batch_input=batch_input)


def write_command(
    interp: Interpreter, st: ExecState, frame: Frame, state: JSONObject
) -> WriteResults:
    """Return the command that writes the Map run's results, registering its token."""
    writer = _evaluate_block(interp, st, frame, state, state["ResultWriter"], "ResultWriter")
    token = interp.new_token(st, frame, "x")
    frame.token = token
    label = state.get("Label") if isinstance(state.get("Label"), str) else frame.state
    run_id = f"{st.execution_id[:8]}-{frame.id}-{frame.entered_event}"
    return WriteResults(token, writer, children_prefix(st, frame), str(label), run_id)


def children_prefix(st: ExecState, frame: Frame) -> str:
    """Return the name prefix shared by the child executions of this Map run."""
    return f"{st.name}:{frame.state}:"
