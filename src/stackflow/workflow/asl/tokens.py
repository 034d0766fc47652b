"""Task tokens: how an external worker or a callback names the task it answers.

A token carries the execution id and the interpreter's own token for the waiting task, so any
process can route an answer to the right execution without a lookup table. Tokens are opaque to
users (URL-safe base64), like Step Functions' ones.
"""

from __future__ import annotations

import base64
import binascii

from stackflow.errors import TaskTokenError

_PREFIX = "sf1."


def make_task_token(execution_id: str, token: str) -> str:
    """Return the external task token for an execution's waiting task ``token``."""
    raw = f"{execution_id}|{token}".encode()
    return _PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_task_token(task_token: str) -> tuple[str, str]:
    """Return ``(execution_id, token)`` from an external task token.

    Raises:
        TaskTokenError: The text is not a stackflow task token.
    """
    if not isinstance(task_token, str) or not task_token.startswith(_PREFIX):
        raise TaskTokenError(f"Invalid task token: {task_token!r} is not a stackflow task token")
    body = task_token[len(_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TaskTokenError(f"Invalid task token: {task_token!r} cannot be decoded") from None
    execution_id, sep, token = raw.partition("|")
    if not sep or not execution_id or not token:
        raise TaskTokenError(f"Invalid task token: {task_token!r} is malformed")
    return execution_id, token
