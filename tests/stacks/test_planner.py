"""The pure planner and change set shapes."""

from __future__ import annotations

from stackflow.providers import default_registry
from stackflow.stacks.changes import MASK, ChangeSet, PropertyChange, ResourceChange
from stackflow.stacks.planner import plan_changes, removal_order
from stackflow.store.stacks import StackResourceRecord
from stackflow.template import PseudoParameters, load_template, prepare_template

TEMPLATE = """
Parameters:
  Secret: {Type: String, NoEcho: true}
Resources:
  A:
    Type: Local::File
    Properties: {Path: a.txt, Content: !Sub "key=${Secret}"}
  B:
    Type: Local::File
    Properties: {Path: !Sub "${A.Sha256}.txt", Content: b}
"""


def record(logical_id: str, properties: dict[str, object], **extra: object) -> StackResourceRecord:
    return StackResourceRecord(
        stack_id="sid",
        logical_id=logical_id,
        type=str(extra.get("type", "Local::File")),
        physical_id=f"/x/{logical_id}",
        status="CREATE_COMPLETE",
        status_reason=None,
        properties=properties,
        attributes={"Path": f"/x/{logical_id}", "Sha256": "abc"},
        depends_on=list(extra.get("depends_on", [])),  # type: ignore[call-overload]
        deletion_policy=None,
        update_replace_policy=None,
        updated_at=0.0,
    )


def prepared(secret: str):  # type: ignore[no-untyped-def]
    registry = default_registry()
    return prepare_template(
        load_template(TEMPLATE, file="t.yaml"),
        {"Secret": secret},
        PseudoParameters("s", "sid"),
        attribute_names=lambda t: registry.get(t).attribute_names(),
    )


def test_new_stack_adds_everything_and_masks_parameters() -> None:
    registry = default_registry()
    changes = plan_changes(prepared("p4ssword"), {}, registry.find, stack_name="s")
    assert [c.action for c in changes.changes] == ["Add", "Add"]
    assert changes.parameters == {"Secret": MASK}


def test_dependent_create_only_property_is_conditional_and_secrets_masked() -> None:
    registry = default_registry()
    records = {
        "A": record("A", {"Path": "a.txt", "Content": "key=old-secret"}),
        "B": record("B", {"Path": "abc.txt", "Content": "b"}, depends_on=["A"]),
        "Gone": record("Gone", {"Path": "g", "Content": "g"}),
    }
    changes = plan_changes(
        prepared("n3w-secret"), records, registry.find, stack_name="s", secrets=["n3w-secret"]
    )
    a = changes.change("A")
    assert a.action == "Modify"
    assert a.details[0].after == f"key={MASK}"
    b = changes.change("B")
    assert b.action == "Modify" and b.replacement == "Conditional"
    assert b.details[0].requires_recreation == "Conditional"
    assert changes.change("Gone").action == "Remove"
    assert changes.counts() == {"Add": 0, "Modify": 2, "Replace": 0, "Remove": 1, "NoChange": 0}
    assert changes.to_json()["Changes"][1]["ResourceChange"]["Replacement"] == "Conditional"


def test_replace_is_written_as_cloudformation_modify_with_replacement() -> None:
    change = ResourceChange(
        "X",
        "Local::File",
        "Replace",
        physical_id="/x",
        replacement="True",
        details=(PropertyChange("/Properties/Path", "a", "b", "Always", "Path is create-only"),),
    )
    body = ChangeSet("s", (change,)).to_json()["Changes"][0]["ResourceChange"]
    assert body["Action"] == "Modify" and body["ChangeType"] == "Replace"
    assert body["Details"][0]["Target"] == {
        "Attribute": "Properties",
        "Name": "Path",
        "Path": "/Properties/Path",
        "RequiresRecreation": "Always",
        "BeforeValue": "a",
        "AfterValue": "b",
    }


def test_removal_order_deletes_dependents_first() -> None:
    records = {
        "Base": record("Base", {}),
        "Mid": record("Mid", {}, depends_on=["Base"]),
        "Top": record("Top", {}, depends_on=["Mid"]),
    }
    assert removal_order(records, ["Base", "Top", "Mid"]) == ["Top", "Mid", "Base"]
