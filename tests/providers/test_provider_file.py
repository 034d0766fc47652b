"""Local::File: create, update, replacement decision, delete and drift with real files."""

from __future__ import annotations

import hashlib
import os
import stat

from stackflow.providers import HandlerStatus
from stackflow.providers.file_resource import FileProvider


def test_create_writes_file_with_mode_and_attributes(tmp_path, make_request, context):
    provider = FileProvider()
    event = provider.create(
        make_request({"Path": "sub/a.txt", "Content": "hello", "Mode": "0600"}), context
    )
    target = tmp_path / "sub" / "a.txt"
    assert event.status == HandlerStatus.SUCCESS
    assert event.physical_id == str(target)
    assert target.read_text() == "hello"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert event.attributes == {
        "Path": str(target),
        "Sha256": hashlib.sha256(b"hello").hexdigest(),
    }
    assert not [p for p in target.parent.iterdir() if p.name.endswith(".tmp")]


def test_source_copies_bytes(tmp_path, make_request, context):
    (tmp_path / "src.bin").write_bytes(b"\x00\x01data")
    event = FileProvider().create(make_request({"Path": "copy.bin", "Source": "src.bin"}), context)
    assert event.status == HandlerStatus.SUCCESS
    assert (tmp_path / "copy.bin").read_bytes() == b"\x00\x01data"


def test_update_rewrites_content_and_path_forces_replacement(tmp_path, make_request, context):
    provider = FileProvider()
    provider.create(make_request({"Path": "a.txt", "Content": "v1"}), context)
    event = provider.update(
        make_request(
            {"Path": "a.txt", "Content": "v2", "Mode": "0640"},
            physical_id=str(tmp_path / "a.txt"),
            previous_properties={"Path": "a.txt", "Content": "v1"},
        ),
        context,
    )
    assert event.status == HandlerStatus.SUCCESS
    assert (tmp_path / "a.txt").read_text() == "v2"
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o640
    assert provider.requires_replacement("Path", "a.txt", "b.txt") is True
    assert provider.requires_replacement("Content", "v1", "v2") is False
    assert provider.schema.replacement_reason("Path") == "Path is create-only"


def test_read_reports_drift_and_missing(tmp_path, make_request, context):
    provider = FileProvider()
    props = {"Path": "a.txt", "Content": "v1", "Mode": "0644"}
    provider.create(make_request(props), context)
    request = make_request(props, physical_id=str(tmp_path / "a.txt"))
    same = provider.read(request, context)
    assert same is not None and same.properties == props
    (tmp_path / "a.txt").write_text("edited")
    os.chmod(tmp_path / "a.txt", 0o600)
    drifted = provider.read(request, context)
    assert drifted is not None
    assert drifted.properties["Content"] == "edited"
    assert drifted.properties["Mode"] == "0600"
    (tmp_path / "a.txt").unlink()
    assert provider.read(request, context) is None


def test_read_source_drift(tmp_path, make_request, context):
    (tmp_path / "src.txt").write_text("one")
    provider = FileProvider()
    props = {"Path": "out.txt", "Source": "src.txt"}
    provider.create(make_request(props), context)
    request = make_request(props, physical_id=str(tmp_path / "out.txt"))
    assert provider.read(request, context).properties["Source"] == "src.txt"
    (tmp_path / "out.txt").write_text("two")
    assert provider.read(request, context).properties["Source"] != "src.txt"


def test_delete_is_idempotent(tmp_path, make_request, context):
    provider = FileProvider()
    provider.create(make_request({"Path": "a.txt", "Content": "x"}), context)
    request = make_request({"Path": "a.txt", "Content": "x"}, physical_id=str(tmp_path / "a.txt"))
    assert provider.delete(request, context).status == HandlerStatus.SUCCESS
    assert not (tmp_path / "a.txt").exists()
    assert provider.delete(request, context).status == HandlerStatus.SUCCESS


def test_schema_requires_exactly_one_source():
    schema = FileProvider.schema
    both = schema.validate(
        {"Path": "a", "Content": "x", "Source": "y"}, pointer="/Resources/F/Properties"
    )
    assert len(both) == 1
    assert "exactly one of Content, Source" in both[0].message
    assert both[0].location.pointer == "/Resources/F/Properties"
    assert schema.validate({"Path": "a", "Content": "x"}, pointer="/p") == []
    readonly = schema.validate({"Path": "a", "Content": "x", "Sha256": "abc"}, pointer="/p")
    assert [p.location.pointer for p in readonly] == ["/p/Sha256"]
