"""Apply, update, replacement, rollback, Retain and retry of stacks, with real providers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from stackflow.errors import StackLockedError, TemplateError
from stackflow.stacks import StackService
from stackflow.stacks.locks import StackLock
from stackflow.store.stacks import StackEvent

TWO_FILES = """
Parameters:
  Greeting:
    Type: String
    Default: hello
Resources:
  First:
    Type: Local::File
    Properties:
      Path: first.txt
      Content: !Ref Greeting
  Second:
    Type: Local::File
    Properties:
      Path: second.txt
      Content: !Sub "sha of first: ${First.Sha256}"
Outputs:
  SecondPath:
    Value: !GetAtt Second.Path
"""


def statuses(events: list[StackEvent], logical_id: str) -> list[str]:
    return [e.status for e in events if e.logical_id == logical_id]


def test_create_then_noop_then_update_in_place(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    template = write("stack.yaml", TWO_FILES)
    seen: list[StackEvent] = []
    result = service.apply(template, "files", on_event=seen.append)
    assert result.ok and result.status == "CREATE_COMPLETE"
    assert (tmp_path / "first.txt").read_text() == "hello"
    assert (tmp_path / "second.txt").read_text().startswith("sha of first: ")
    assert result.outputs == {"SecondPath": str(tmp_path / "second.txt")}
    assert statuses(seen, "First") == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
    assert [e.seq for e in seen] == sorted(e.seq for e in seen)
    assert seen[0].logical_id == "files" and seen[-1].status == "CREATE_COMPLETE"

    again = service.apply(template, "files")
    assert again.no_op and again.status == "CREATE_COMPLETE"

    plan = service.plan(template, "files", {"Greeting": "bye"})
    first = plan.change("First")
    assert first.action == "Modify" and first.replacement == "False"
    assert [(d.name, d.before, d.after) for d in first.details] == [("Content", "hello", "bye")]
    second = plan.change("Second")
    assert second.action == "Modify" and second.replacement == "False"
    detail = second.details[0].to_json()
    assert detail["Target"]["AfterValue"] == "{{changeSet:KNOWN_AFTER_APPLY}}"
    assert detail["ChangeSource"] == "ResourceAttribute" and detail["CausingEntity"] == "First"
    assert detail["Evaluation"] == "Dynamic"

    updated = service.apply(template, "files", {"Greeting": "bye"})
    assert updated.status == "UPDATE_COMPLETE", updated.root_causes
    assert (tmp_path / "first.txt").read_text() == "bye"
    description = service.describe("files")
    assert description.parameters == {"Greeting": "bye"}
    assert {r.logical_id: r.status for r in description.resources} == {
        "First": "UPDATE_COMPLETE",
        "Second": "UPDATE_COMPLETE",
    }


def test_replacement_creates_new_before_deleting_old(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    text = (
        "Resources:\n  F:\n    Type: Local::File\n    Properties:\n"
        "      Path: {p}\n      Content: x\n"
    )
    service.apply(write("s.yaml", text.format(p="old.txt")), "rep")
    assert (tmp_path / "old.txt").exists()
    plan = service.plan(write("s.yaml", text.format(p="new.txt")), "rep")
    change = plan.change("F")
    assert change.action == "Replace" and change.replacement == "True"
    assert change.details[0].requires_recreation == "Always"
    assert change.details[0].reason == "Path is create-only"
    seen: list[StackEvent] = []
    result = service.apply(tmp_path / "s.yaml", "rep", on_event=seen.append)
    assert result.status == "UPDATE_COMPLETE"
    assert (tmp_path / "new.txt").exists() and not (tmp_path / "old.txt").exists()
    order = [(e.status, e.physical_id) for e in seen if e.logical_id == "F"]
    created = order.index(("UPDATE_COMPLETE", str(tmp_path / "new.txt")))
    deleted = order.index(("DELETE_COMPLETE", str(tmp_path / "old.txt")))
    assert created < deleted
    assert "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS" in [e.status for e in seen]


def test_retain_policies_keep_resources(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    text = """
Resources:
  Kept:
    Type: Local::File
    DeletionPolicy: Retain
    Properties: {Path: kept.txt, Content: k}
  Swapped:
    Type: Local::File
    UpdateReplacePolicy: Retain
    Properties: {Path: PATH, Content: s}
"""
    template = write("r.yaml", text.replace("PATH", "one.txt"))
    assert service.apply(template, "keep").ok
    write("r.yaml", text.replace("PATH", "two.txt"))
    seen: list[StackEvent] = []
    assert service.apply(template, "keep", on_event=seen.append).status == "UPDATE_COMPLETE"
    assert (tmp_path / "one.txt").exists() and (tmp_path / "two.txt").exists()
    assert ("Swapped", "DELETE_SKIPPED") in [(e.logical_id, e.status) for e in seen]
    # removing a Retain resource from the template keeps the file
    write(
        "r.yaml",
        "Resources:\n  Other:\n    Type: Local::File\n    Properties: {Path: o.txt, Content: o}\n",
    )
    plan = service.plan(template, "keep")
    assert plan.change("Kept").action == "Remove" and plan.change("Kept").policy_action == "Retain"
    assert service.apply(template, "keep").ok
    assert (tmp_path / "kept.txt").exists() and not (tmp_path / "two.txt").exists()
    result = service.delete("keep")
    assert result.status == "DELETE_COMPLETE"
    assert not (tmp_path / "o.txt").exists() and (tmp_path / "kept.txt").exists()


def test_deletion_policies_on_a_rolled_back_create_and_on_delete(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    # As on AWS: Retain outlives the rollback of its creation, RetainExceptOnCreate does not,
    # and both are kept when the stack is deleted.
    text = """
Resources:
  Kept:
    Type: Local::File
    DeletionPolicy: Retain
    Properties: {Path: kept.txt, Content: k}
  KeptUnlessNew:
    Type: Local::File
    DeletionPolicy: RetainExceptOnCreate
    Properties: {Path: unless.txt, Content: u}
  Breaks:
    Type: Local::Command
    DependsOn: [Kept, KeptUnlessNew]
    Properties: {Create: "exit 3"}
"""
    template = write("p.yaml", text)
    seen: list[StackEvent] = []
    result = service.apply(template, "policies", on_event=seen.append)
    assert result.status == "ROLLBACK_COMPLETE"
    assert (tmp_path / "kept.txt").exists()
    assert not (tmp_path / "unless.txt").exists()
    assert ("Kept", "DELETE_SKIPPED") in [(e.logical_id, e.status) for e in seen]

    (tmp_path / "kept.txt").unlink()
    write("p.yaml", text.split("  Breaks:")[0])
    assert service.apply(template, "policies").status == "CREATE_COMPLETE"
    assert service.delete("policies").status == "DELETE_COMPLETE"
    assert (tmp_path / "kept.txt").exists() and (tmp_path / "unless.txt").exists()


FAILING = """
Resources:
  Base:
    Type: Local::File
    Properties: {Path: base.txt, Content: base}
  Breaks:
    Type: Local::Command
    DependsOn: Base
    Properties:
      Create: "exit 3"
  AfterBreak:
    Type: Local::File
    DependsOn: Breaks
    Properties: {Path: after.txt, Content: never}
  Independent:
    Type: Local::Command
    Properties:
      Create: "sleep 0.3; touch independent.txt"
      Delete: "rm -f independent.txt"
"""


def test_failure_mid_graph_rolls_everything_back(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    seen: list[StackEvent] = []
    result = service.apply(write("f.yaml", FAILING), "broken", on_event=seen.append)
    assert result.status == "ROLLBACK_COMPLETE"
    assert [c.logical_id for c in result.root_causes] == ["Breaks"]
    assert "3" in result.root_causes[0].reason
    assert result.skipped == ("AfterBreak",)
    # the independent branch finished before the rollback undid it
    independent = statuses(seen, "Independent")
    assert independent.index("CREATE_COMPLETE") < independent.index("DELETE_COMPLETE")
    assert not statuses(seen, "AfterBreak")
    assert not (tmp_path / "base.txt").exists() and not (tmp_path / "independent.txt").exists()
    assert service.describe("broken").resources == ()
    stack_statuses = statuses(seen, "broken")
    assert stack_statuses == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]

    # a failed first create can be retried without a manual delete
    fixed = FAILING.replace('"exit 3"', '"true"')
    retry = service.apply(write("f.yaml", fixed), "broken")
    assert retry.status == "CREATE_COMPLETE", retry.root_causes
    assert retry.stack_id != result.stack_id
    assert (tmp_path / "after.txt").read_text() == "never"


def test_failed_update_restores_previous_state(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    good = "Resources:\n  A:\n    Type: Local::File\n    Properties: {Path: a.txt, Content: v1}\n"
    template = write("u.yaml", good)
    assert service.apply(template, "upd").ok
    bad = good.replace("v1", "v2") + (
        "  B:\n    Type: Local::Command\n    DependsOn: A\n    Properties: {Create: 'exit 3'}\n"
    )
    write("u.yaml", bad)
    result = service.apply(template, "upd")
    assert result.status == "UPDATE_ROLLBACK_COMPLETE"
    assert (tmp_path / "a.txt").read_text() == "v1"
    described = service.describe("upd")
    assert [r.logical_id for r in described.resources] == ["A"]
    assert service.store.get_stack("upd").template == good


def test_no_rollback_leaves_failed_status(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    result = service.apply(write("f.yaml", FAILING), "keepfail", rollback=False)
    assert result.status == "CREATE_FAILED"
    assert (tmp_path / "base.txt").exists()
    statuses_by_id = {r.logical_id: r.status for r in service.describe("keepfail").resources}
    assert statuses_by_id["Breaks"] == "CREATE_FAILED"


def test_exports_and_imports(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    producer = """
Resources:
  F:
    Type: Local::File
    Properties: {Path: shared.txt, Content: shared}
Outputs:
  Where:
    Value: !GetAtt F.Path
    Export: {Name: shared-path}
"""
    consumer = """
Resources:
  Copy:
    Type: Local::File
    Properties:
      Path: copy.txt
      Content: !ImportValue shared-path
"""
    assert service.apply(write("p.yaml", producer), "producer").ok
    assert service.apply(write("c.yaml", consumer), "consumer").ok
    assert (tmp_path / "copy.txt").read_text() == str(tmp_path / "shared.txt")
    with pytest.raises(Exception, match="shared-path"):
        service.delete("producer")
    assert (tmp_path / "shared.txt").exists()
    # a second stack exporting the same name fails and rolls back
    clash = producer.replace("shared.txt", "clash.txt")
    result = service.apply(write("q.yaml", clash), "clash")
    assert result.status == "ROLLBACK_COMPLETE"
    assert not (tmp_path / "clash.txt").exists()
    assert service.delete("consumer").ok
    assert service.delete("producer").ok
    assert not (tmp_path / "shared.txt").exists()


def test_lock_held_by_live_owner_is_refused(
    service: StackService, write: Callable[[str, str], Path]
) -> None:
    template = write("l.yaml", TWO_FILES)
    record = service.apply(template, "locked")
    lock = StackLock(service.store, record.stack_id, "elsewhere:1:abc", 60)
    assert lock.try_acquire()
    try:
        with pytest.raises(StackLockedError, match="elsewhere"):
            service.apply(template, "locked", {"Greeting": "x"})
        with pytest.raises(StackLockedError):
            service.delete("locked")
    finally:
        lock.release()
    assert service.apply(template, "locked", {"Greeting": "x"}).status == "UPDATE_COMPLETE"


def test_parallel_walk_runs_independent_resources_together(
    service: StackService, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    # two commands that each wait for the other's file: only a parallel walk can finish them
    text = """
Resources:
  Left:
    Type: Local::Command
    Properties:
      Create: "touch left; for i in $(seq 100); do [ -f right ] && exit 0; sleep 0.05; done; exit 1"
  Right:
    Type: Local::Command
    Properties:
      Create: "touch right; for i in $(seq 100); do [ -f left ] && exit 0; sleep 0.05; done; exit 1"
"""
    assert service.apply(write("par.yaml", text), "par", parallelism=4).ok


def test_invalid_template_changes_nothing(
    service: StackService, write: Callable[[str, str], Path]
) -> None:
    bad = "Resources:\n  A:\n    Type: Local::Fiel\n    Properties: {Path: a, Content: b}\n"
    with pytest.raises(TemplateError, match=r"bad.yaml:3"):
        service.apply(write("bad.yaml", bad), "bad")
    assert service.store.find_stack("bad") is None


def test_concurrent_applies_one_wins(
    service: StackService, write: Callable[[str, str], Path]
) -> None:
    template = write(
        "slow.yaml",
        "Resources:\n  S:\n    Type: Local::Command\n    Properties: {Create: 'sleep 0.5'}\n",
    )
    errors: list[BaseException] = []
    results = []

    def run() -> None:
        try:
            results.append(service.apply(template, "race"))
        except StackLockedError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 1 and results[0].ok
    assert len(errors) == 1
