"""Local::Directory: create, mode drift and delete rules."""

from __future__ import annotations

import os
import stat

from stackflow.providers import HandlerErrorCode, HandlerStatus
from stackflow.providers.directory import DirectoryProvider


def test_create_read_and_drift(tmp_path, make_request, context):
    provider = DirectoryProvider()
    props = {"Path": "a/b", "Mode": "0750"}
    event = provider.create(make_request(props), context)
    target = tmp_path / "a" / "b"
    assert event.status == HandlerStatus.SUCCESS
    assert event.physical_id == str(target)
    assert target.is_dir() and stat.S_IMODE(target.stat().st_mode) == 0o750
    request = make_request(props, physical_id=str(target))
    assert provider.read(request, context).properties == props
    os.chmod(target, 0o700)
    assert provider.read(request, context).properties["Mode"] == "0700"
    assert provider.requires_replacement("Path", "a", "b") is True
    assert provider.requires_replacement("Mode", "0750", "0700") is False


def test_delete_only_when_empty_unless_delete_contents(tmp_path, make_request, context):
    provider = DirectoryProvider()
    provider.create(make_request({"Path": "d"}), context)
    (tmp_path / "d" / "keep.txt").write_text("x")
    request = make_request({"Path": "d"}, physical_id=str(tmp_path / "d"))
    refused = provider.delete(request, context)
    assert refused.status == HandlerStatus.FAILED
    assert refused.error_code == HandlerErrorCode.ResourceConflict
    assert "DeleteContents" in refused.message
    assert (tmp_path / "d" / "keep.txt").exists()
    forced = make_request({"Path": "d", "DeleteContents": True}, physical_id=str(tmp_path / "d"))
    assert provider.delete(forced, context).status == HandlerStatus.SUCCESS
    assert not (tmp_path / "d").exists()
    assert provider.delete(forced, context).status == HandlerStatus.SUCCESS
    assert provider.read(forced, context) is None
