"""Child executions: the records a parent creates, what a child reports back, Map run results."""

from __future__ import annotations

import json
import time
from typing import Any

from stackflow.store.base import ExecutionRecord, Request, Store
from stackflow.types import JSON
from stackflow.workflow import integrations
from stackflow.workflow.asl.context import Identity
from stackflow.workflow.asl.execstate import StartChild, WriteResults
from stackflow.workflow.live import Live


def child_record(
    live: Live, command: StartChild, *, owner: str, start_time: float, lease_seconds: float
) -> ExecutionRecord:
    """The record of a Distributed Map item's child execution (created with the step)."""
    parent_id = live.record.execution_id
    return ExecutionRecord(
        execution_id=integrations.child_execution_id(parent_id, command.token),
        name=command.name,
        workflow=f"{live.record.workflow}/{live.record.name}",
        definition=json.dumps(command.definition, separators=(",", ":")),
        status="RUNNING",
        input=command.input,
        start_time=start_time,
        parent_id=parent_id,
        owner=owner,
        lease_expires=time.time() + lease_seconds,
    )


def parent_request(live: Live, parent_id: str, now: float) -> Request:
    """The request that tells a parent execution this child ended."""
    st = live.state
    payload = {
        "execution_id": st.execution_id,
        "workflow": st.workflow,
        "name": st.name,
        "status": st.status,
        "input": st.input,
        "output": st.output,
        "error": st.error,
        "cause": st.cause,
        "start_time": st.start_time,
        "stop_time": now,
    }
    return Request(0, parent_id, "child_finished", None, payload, now)


def write_map_results(store: Store, identity: Identity, live: Live, command: WriteResults) -> JSON:
    """Write a Distributed Map run's results (runs on the executor, off the loop).

    Children are read from the store a page at a time and kept only as the small entries the
    result files need, so a run of 100,000 items does not hold 100,000 records.
    """
    execution_id = live.record.execution_id
    prefix = command.children_prefix
    latest: dict[int, dict[str, Any]] = {}
    after = prefix
    done = False
    while not done:
        page = store.list_children(execution_id, after_name=after, limit=1000)
        done = len(page) < 1000
        if page:
            after = page[-1].name
        for child in page:
            if not child.name.startswith(prefix):  # names of one run sort together: past it
                done = True
                break
            index_text = child.name[len(prefix) :].split(":", 1)[0]
            if not index_text.isdigit():
                continue
            index = int(index_text)
            known = latest.get(index)
            if known is None or child.start_time >= known["start_time"]:
                latest[index] = {
                    "index": index,
                    "name": child.name,
                    "execution_arn": identity.execution_arn(child.workflow, child.name),
                    "input": child.input,
                    "status": child.status,
                    "output": child.output,
                    "error": child.error,
                    "cause": child.cause,
                    "start_time": child.start_time,
                    "stop_time": child.stop_time,
                }
    execution_arn = identity.execution_arn(live.record.workflow, live.record.name)
    results = [latest[index] for index in sorted(latest)]
    from stackflow.workflow import mapio
    from stackflow.workflow.mapio_results import make_map_run_arn

    return mapio.write_results(
        command.writer,
        map_run_id=command.map_run_id,
        execution_arn=execution_arn,
        results=results,
        map_run_arn=make_map_run_arn(execution_arn, command.label, command.map_run_id),
    )
