"""A plain apply records the change set it executes (for "last change set"), secrets masked."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from stackflow.stacks import StackService

SECRET = "change-set-secret-1"

TEMPLATE = """\
Parameters:
  Secret:
    Type: String
    NoEcho: true
  Greeting:
    Type: String
    Default: hello
Resources:
  A:
    Type: Local::File
    Properties: {Path: a.txt, Content: !Sub "${Greeting} ${Secret}"}
"""


def test_apply_records_its_change_set(
    service: StackService, write: Callable[[str, str], Path]
) -> None:
    template = write("t.yaml", TEMPLATE)
    result = service.apply(template, "cs", {"Secret": SECRET})
    assert result.ok, result.root_causes
    (created,) = service.store.list_change_sets("cs")
    assert created.status == "EXECUTE_COMPLETE"
    assert created.stack_version == 0
    assert created.parameters == {"Secret": "****", "Greeting": "hello"}
    assert created.changes["ChangeSetId"] == created.change_set_id
    assert created.changes["StackId"] == result.stack_id
    assert created.changes["Changes"][0]["ResourceChange"]["Action"] == "Add"
    assert SECRET not in json.dumps(created.changes)

    # Nothing to do: no change set is recorded.
    assert service.apply(template, "cs").no_op
    assert len(service.store.list_change_sets("cs")) == 1

    before = service.store.get_stack("cs").version
    result = service.apply(template, "cs", {"Greeting": "bye"})
    assert result.ok, result.root_causes
    first, second = service.store.list_change_sets("cs")
    assert first.change_set_id == created.change_set_id
    assert (second.status, second.stack_version) == ("EXECUTE_COMPLETE", before)
    assert second.changes["Changes"][0]["ResourceChange"]["Action"] == "Modify"
    assert SECRET not in json.dumps(second.changes) + json.dumps(second.parameters)


def test_a_failed_apply_marks_its_change_set_failed(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    (tmp_path / "blocker").write_text("a file, not a folder")
    text = (
        "Resources:\n  A:\n    Type: Local::File\n"
        "    Properties: {Path: blocker/a.txt, Content: x}\n"
    )
    result = service.apply(write("bad.yaml", text), "bad")
    assert not result.ok
    (record,) = service.store.list_change_sets("bad")
    assert record.status == "EXECUTE_FAILED"
