"""``Local::File``: a file on the local machine, with content given inline or copied from a file.

Properties:

* ``Path`` (required, create-only): where the file is; relative paths resolve against the
  template's folder. Missing parent folders are created.
* ``Content`` or ``Source`` (exactly one): the text to write, or a file to copy.
* ``Mode``: permission bits as an octal string (``"0644"``).

Attributes: ``Path`` (absolute) and ``Sha256`` (of the content). The physical id is the absolute
path. Writes are atomic (a temporary file renamed over the target). ``read`` returns the actual
``Content`` and ``Mode`` (when they were given), so edits made outside stackflow show as drift; for
``Source`` it returns the recorded value while the file still matches the source, else a note.
Deleting a file that is already gone succeeds.
"""

from __future__ import annotations

import hashlib
from typing import Any

from stackflow.providers.base import (
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
)
from stackflow.providers.common import (
    MODE_SCHEMA,
    atomic_write,
    invalid,
    parse_mode,
    physical_path,
    resolve_path,
)
from stackflow.providers.common import show_mode as _show_mode

SCHEMA = ResourceSchema.from_dict(
    {
        "typeName": "Local::File",
        "description": "A file on the local machine, written atomically.",
        "properties": {
            "Path": {
                "type": "string",
                "minLength": 1,
                "description": "Where the file is (relative to the template's folder). "
                "As an attribute: the absolute path.",
            },
            "Content": {"type": "string", "description": "The text of the file (UTF-8)."},
            "Source": {
                "type": "string",
                "minLength": 1,
                "description": "A file whose bytes are copied (relative to the template's folder).",
            },
            "Mode": MODE_SCHEMA,
            "Sha256": {
                "type": "string",
                "readOnly": True,
                "description": "SHA-256 of the content, hex encoded.",
            },
        },
        "required": ["Path"],
        "oneOf": [{"required": ["Content"]}, {"required": ["Source"]}],
        "createOnlyProperties": ["/properties/Path"],
        "readOnlyProperties": ["/properties/Path", "/properties/Sha256"],
        "writeOnlyProperties": [],
        "primaryIdentifier": ["/properties/Path"],
        "additionalProperties": False,
    }
)


def _desired_bytes(request: ResourceRequest, props: dict[str, Any]) -> bytes:
    content, source = props.get("Content"), props.get("Source")
    if (content is None) == (source is None):
        raise invalid("Local::File needs exactly one of Content and Source")
    if content is not None:
        if not isinstance(content, str):
            raise invalid("Content must be a string")
        return content.encode("utf-8")
    source_path = resolve_path(request, source, "Source")
    try:
        return source_path.read_bytes()
    except OSError as exc:
        raise invalid(f"Source {source_path} cannot be read: {exc.strerror or exc}") from None


def _write(request: ResourceRequest) -> ProgressEvent:
    props = request.properties
    path = resolve_path(request, props.get("Path"))
    mode = parse_mode(props.get("Mode"))
    data = _desired_bytes(request, props)
    if path.is_dir():
        raise invalid(f"Path {path} is a directory")
    atomic_write(path, data, mode)
    return ProgressEvent.success(
        str(path), {"Path": str(path), "Sha256": hashlib.sha256(data).hexdigest()}
    )


class FileProvider(Provider):
    """The ``Local::File`` resource type."""

    schema = SCHEMA

    def create(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Write the file (an existing file at Path is overwritten)."""
        return _write(request)

    def update(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Rewrite the file with the new Content/Source and Mode."""
        return _write(request)

    def delete(self, request: ResourceRequest, context: ProviderContext) -> ProgressEvent:
        """Remove the file; a missing file is success."""
        path = physical_path(request)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            raise invalid(f"Path {path} is a directory, not a file") from None
        return ProgressEvent.success(str(path))

    def read(self, request: ResourceRequest, context: ProviderContext) -> ReadResult | None:
        """Read the file's actual content and mode."""
        path = physical_path(request)
        try:
            data = path.read_bytes()
            mode = path.stat().st_mode & 0o777
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        props = request.properties
        actual: dict[str, Any] = {"Path": props.get("Path")}
        if "Content" in props:
            actual["Content"] = data.decode("utf-8", errors="replace")
        if "Source" in props:
            actual["Source"] = props["Source"]
            try:
                same = resolve_path(request, props["Source"], "Source").read_bytes() == data
            except OSError:
                same = False
            if not same:
                actual["Source"] = f"(the file differs from {props['Source']})"
        if "Mode" in props:
            actual["Mode"] = _show_mode(mode, props["Mode"])
        attributes = {"Path": str(path), "Sha256": hashlib.sha256(data).hexdigest()}
        return ReadResult(actual, attributes)
