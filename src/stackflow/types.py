"""Shared vocabulary: JSON values and identifiers used across stackflow."""

from __future__ import annotations

from typing import Any, TypeAlias

#: A JSON value as produced by ``json.loads`` (kept as ``Any`` for ergonomic use by callers).
JSON: TypeAlias = Any
#: A JSON object.
JSONObject: TypeAlias = dict[str, Any]
#: Identifier of an execution (a UUID string).
ExecutionId: TypeAlias = str

#: Terminal execution statuses, named as in Step Functions.
TERMINAL_STATUSES = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"})
#: Every execution status, named as in Step Functions.
EXECUTION_STATUSES = frozenset({"RUNNING", *TERMINAL_STATUSES})
