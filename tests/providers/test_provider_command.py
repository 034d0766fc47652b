"""Local::Command: real processes, attributes from stdout, failures, timeouts and triggers."""

from __future__ import annotations

import json
import os
import time

from stackflow.providers import HandlerErrorCode, HandlerStatus
from stackflow.providers.command import CommandProvider


def test_create_parses_last_json_line_and_sets_environment(tmp_path, make_request, context):
    script = (
        'echo "log line"; echo \'{"ignored": 1}\'; '
        'printf \'{"Stack":"%s","Logical":"%s","Id":"%s","Greeting":"%s"}\\n\' '
        '"$STACKFLOW_STACK_NAME" "$STACKFLOW_LOGICAL_ID" "$STACKFLOW_PHYSICAL_ID" "$GREETING"; '
        "pwd > where.txt"
    )
    event = CommandProvider().create(
        make_request(
            {"Create": script, "Environment": {"GREETING": "hi"}},
            resource_type="Local::Command",
        ),
        context,
    )
    assert event.status == HandlerStatus.SUCCESS, event.message
    assert event.physical_id == "demo-Res-abc123"
    assert event.attributes == {
        "Stack": "demo",
        "Logical": "Res",
        "Id": "demo-Res-abc123",
        "Greeting": "hi",
    }
    assert (tmp_path / "where.txt").read_text().strip() == os.path.realpath(tmp_path)


def test_argv_command_and_nonzero_exit(make_request, context):
    ok = CommandProvider().create(
        make_request({"Create": ["python3", "-c", "print('{\"n\": 3}')"]}), context
    )
    assert ok.attributes == {"n": 3}
    failed = CommandProvider().create(
        make_request({"Create": "echo first >&2; echo boom >&2; exit 7"}), context
    )
    assert failed.status == HandlerStatus.FAILED
    assert "code 7" in failed.message
    assert failed.message.rstrip().endswith("boom")


def test_update_runs_on_trigger_change_with_old_properties(tmp_path, make_request, context):
    provider = CommandProvider()
    before = {"Create": "echo created >> log.txt", "Triggers": {"v": 1}}
    after = {"Create": "echo created >> log.txt", "Triggers": {"v": 2}}
    provider.create(make_request(before), context)
    event = provider.update(
        make_request(
            after,
            physical_id="demo-Res-abc123",
            previous_properties=before,
            previous_attributes={"kept": True},
        ),
        context,
    )
    assert event.status == HandlerStatus.SUCCESS
    assert (tmp_path / "log.txt").read_text().splitlines() == ["created", "created"]
    assert event.attributes == {"kept": True}

    update_cmd = {
        "Create": "true",
        "Update": 'echo "$STACKFLOW_OLD_PROPERTIES" > old.json',
        "Triggers": {"v": 3},
    }
    provider.update(
        make_request(update_cmd, physical_id="demo-Res-abc123", previous_properties=after),
        context,
    )
    assert json.loads((tmp_path / "old.json").read_text()) == after


def test_update_of_delete_command_only_runs_nothing(tmp_path, make_request, context):
    provider = CommandProvider()
    before = {"Create": "echo x >> log.txt", "Delete": "true"}
    after = {"Create": "echo x >> log.txt", "Delete": "echo bye"}
    event = provider.update(
        make_request(after, physical_id="p", previous_properties=before, previous_attributes={}),
        context,
    )
    assert event.status == HandlerStatus.SUCCESS
    assert not (tmp_path / "log.txt").exists()
    assert provider.requires_replacement("Create", "a", "b") is False


def test_delete_runs_delete_command_and_read_never_drifts(tmp_path, make_request, context):
    provider = CommandProvider()
    props = {"Create": "true", "Delete": "touch deleted.flag"}
    request = make_request(props, physical_id="p", previous_attributes={"a": 1})
    assert provider.delete(request, context).status == HandlerStatus.SUCCESS
    assert (tmp_path / "deleted.flag").exists()
    read = provider.read(request, context)
    assert read is not None and read.properties == props and read.attributes == {"a": 1}
    assert provider.attribute_names() is None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (not yet reaped by its parent) counts as dead.
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def test_timeout_kills_process_group(tmp_path, make_request, context):
    started = time.monotonic()
    event = CommandProvider().create(
        make_request({"Create": "sleep 30 & echo $! > bg.pid; wait", "TimeoutSeconds": 0.5}),
        context,
    )
    assert event.status == HandlerStatus.FAILED
    assert event.error_code == HandlerErrorCode.Timeout
    assert "0.5 seconds" in event.message
    assert time.monotonic() - started < 10
    pid = int((tmp_path / "bg.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _alive(pid)
