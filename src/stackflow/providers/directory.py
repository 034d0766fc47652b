"""``Local::Directory``: a folder on the local machine.

Properties:

* ``Path`` (required, create-only): the folder; relative paths resolve against the template's
  folder. Missing parents are created.
* ``Mode``: permission bits as an octal string (``"0755"``).
* ``DeleteContents`` (default false): when true, deleting the resource removes the folder with
  everything in it; otherwise a folder that is not empty is left in place and the delete fails
  (``ResourceConflict``), like CloudFormation's refusal to delete a non-empty S3 bucket.

Attribute: ``Path`` (absolute), which is also the physical id. A folder that already exists is
adopted on create.
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from stackflow.providers.base import (
    HandlerErrorCode,
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)
from stackflow.providers.common import (
    MODE_SCHEMA,
    invalid,
    parse_mode,
    physical_path,
    resolve_path,
    show_mode,
)

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": "Local::Directory",
        "description": "A folder on the local machine.",
        "properties": {
            "Path": {
                "type": "string",
                "minLength": 1,
                "description": "The folder (relative to the template's folder). As an attribute: "
                "the absolute path.",
            },
            "Mode": MODE_SCHEMA,
            "DeleteContents": {
                "type": "boolean",
                "default": False,
                "description": "On delete, remove the folder even when it is not empty.",
            },
        },
        "required": ["Path"],
        "createOnlyProperties": ["/properties/Path"],
        "readOnlyProperties": ["/properties/Path"],
        "writeOnlyProperties": [],
        "primaryIdentifier": ["/properties/Path"],
        "additionalProperties": False,
    }
)


def _ensure(request: ResourceRequest) -> ProgressEvent:
    path = resolve_path(request, request.properties.get("Path"))
    mode = parse_mode(request.properties.get("Mode"))
    if path.exists() and not path.is_dir():
        raise invalid(f"Path {path} exists and is not a directory")
    path.mkdir(parents=True, exist_ok=True)
    if mode is not None:
        os.chmod(path, mode)
    return ProgressEvent.success(str(path), {"Path": str(path)})


class DirectoryProvider(Provider):
    """The ``Local::Directory`` resource type."""

    schema = SCHEMA

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Create the folder (and its parents)."""
        return _ensure(request)

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Apply the new Mode (re-creating the folder if it vanished)."""
        return _ensure(request)

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Remove the folder: only when empty, unless DeleteContents is true."""
        path = physical_path(request)
        if not path.exists() and not path.is_symlink():
            return ProgressEvent.success(str(path))
        if not path.is_dir() or path.is_symlink():
            return ProgressEvent.failed(
                f"{path} is not a directory; not removed", HandlerErrorCode.ResourceConflict
            )
        if request.properties.get("DeleteContents") is True:
            shutil.rmtree(path)
            return ProgressEvent.success(str(path))
        try:
            path.rmdir()
        except OSError:
            return ProgressEvent.failed(
                f"Directory {path} is not empty; set DeleteContents: true to remove it with "
                "its contents",
                HandlerErrorCode.ResourceConflict,
            )
        return ProgressEvent.success(str(path))

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Report whether the folder exists and its actual Mode."""
        path = physical_path(request)
        if not path.is_dir():
            return None
        props = request.properties
        actual: dict[str, Any] = {"Path": props.get("Path")}
        if "Mode" in props:
            actual["Mode"] = show_mode(path.stat().st_mode & 0o777, props["Mode"])
        return ReadResult(actual, {"Path": str(path)})
