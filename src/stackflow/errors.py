"""The one error tree of stackflow.

Every exception stackflow raises on purpose derives from :class:`StackflowError`.

* Errors in user input (a definition, a template) carry :class:`SourceLocation` values naming the
  file, line, column and JSON pointer of the mistake, and are reported all at once.
* :class:`WorkflowFailure` is the runtime failure of a workflow state, carrying a Step Functions
  error name (``States.Runtime``, ``States.TaskFailed``, a user error such as ``ValueError``) and a
  cause. The pure evaluators (paths, intrinsics, JSONata) raise it; the interpreter catches it and
  applies Retry/Catch exactly as Step Functions does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Predefined Step Functions error names (AWS "Error names" documentation).
STATES_ALL = "States.ALL"
STATES_TIMEOUT = "States.Timeout"
STATES_HEARTBEAT_TIMEOUT = "States.HeartbeatTimeout"
STATES_TASK_FAILED = "States.TaskFailed"
STATES_PERMISSIONS = "States.Permissions"
STATES_RESULT_PATH_MATCH_FAILURE = "States.ResultPathMatchFailure"
STATES_PARAMETER_PATH_FAILURE = "States.ParameterPathFailure"
STATES_QUERY_EVALUATION_ERROR = "States.QueryEvaluationError"
STATES_BRANCH_FAILED = "States.BranchFailed"
STATES_NO_CHOICE_MATCHED = "States.NoChoiceMatched"
STATES_INTRINSIC_FAILURE = "States.IntrinsicFailure"
STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD = "States.ExceedToleratedFailureThreshold"
STATES_ITEM_READER_FAILED = "States.ItemReaderFailed"
STATES_RESULT_WRITER_FAILED = "States.ResultWriterFailed"
STATES_RUNTIME = "States.Runtime"
STATES_DATA_LIMIT_EXCEEDED = "States.DataLimitExceeded"

#: Errors that States.ALL does not match and that no Retry or Catch can handle.
UNCATCHABLE_ERRORS = frozenset({STATES_RUNTIME, STATES_DATA_LIMIT_EXCEEDED})

#: Every predefined error name, used by the validator to spot typos such as "States.Timout".
PREDEFINED_ERRORS = frozenset(
    {
        STATES_ALL,
        STATES_TIMEOUT,
        STATES_HEARTBEAT_TIMEOUT,
        STATES_TASK_FAILED,
        STATES_PERMISSIONS,
        STATES_RESULT_PATH_MATCH_FAILURE,
        STATES_PARAMETER_PATH_FAILURE,
        STATES_QUERY_EVALUATION_ERROR,
        STATES_BRANCH_FAILED,
        STATES_NO_CHOICE_MATCHED,
        STATES_INTRINSIC_FAILURE,
        STATES_EXCEED_TOLERATED_FAILURE_THRESHOLD,
        STATES_ITEM_READER_FAILED,
        STATES_RESULT_WRITER_FAILED,
        STATES_RUNTIME,
        STATES_DATA_LIMIT_EXCEEDED,
    }
)


class StackflowError(Exception):
    """Base class of every error stackflow raises on purpose."""


@dataclass(frozen=True)
class SourceLocation:
    """Where something sits in a user's file.

    Attributes:
        file: Path of the file, or None for a definition given as a Python object.
        line: 1-based line number, or None when unknown.
        column: 1-based column number, or None when unknown.
        pointer: RFC 6901 JSON pointer of the value, e.g. ``/States/Start/Next``.
    """

    file: str | None
    line: int | None
    column: int | None
    pointer: str

    def __str__(self) -> str:
        where = self.file or "<definition>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return f"{where} ({self.pointer or '/'})"


@dataclass(frozen=True)
class Problem:
    """One mistake found in user input.

    Attributes:
        location: Where the mistake is.
        message: What is wrong and what was expected.
        code: A stable identifier of the kind of mistake (e.g. ``SCHEMA_VALIDATION_FAILED``).
    """

    location: SourceLocation
    message: str
    code: str = "SCHEMA_VALIDATION_FAILED"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


class InputError(StackflowError):
    """Bad user input: carries every problem found, each with its location."""

    def __init__(self, problems: list[Problem], summary: str | None = None) -> None:
        self.problems: list[Problem] = list(problems)
        head = summary or f"{len(self.problems)} problem(s) found"
        super().__init__(head + "".join(f"\n  {p}" for p in self.problems))


class DefinitionError(InputError):
    """A workflow definition (Amazon States Language) is invalid."""


class TemplateError(InputError):
    """A stack template is invalid."""


@dataclass
class WorkflowFailure(StackflowError):
    """The runtime failure of a workflow state, with a Step Functions error name and cause.

    Attributes:
        error: Error name, e.g. ``States.Runtime`` or ``ValueError``.
        cause: Human readable cause (for task errors often a JSON string).
    """

    error: str
    cause: str | None = None
    details: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        Exception.__init__(self, f"{self.error}: {self.cause}" if self.cause else self.error)

    def __str__(self) -> str:
        return f"{self.error}: {self.cause}" if self.cause else self.error


class PathNotFoundError(StackflowError):
    """A JSONPath (``$``, ``$$`` or ``$variable``) matched nothing.

    Attributes:
        path: The path as written by the user, e.g. ``$.foo.bar``.
        canonical: The path in bracket form as AWS prints it, e.g. ``$['foo']['bar']``.
    """

    def __init__(self, path: str, canonical: str | None = None) -> None:
        self.path = path
        self.canonical = canonical or path
        super().__init__(f"Invalid path '{path}' : No results for path: {self.canonical}")


class StoreError(StackflowError):
    """The store failed or was used wrongly."""


class NotFoundError(StoreError):
    """A requested record (execution, workflow) does not exist."""


class ConflictError(StoreError):
    """A record with the same identity exists with different content."""


class LeaseLostError(StoreError):
    """A transition was refused because its owner no longer holds the execution's lease."""


class ExecutionAlreadyExists(ConflictError):
    """An execution with this name exists for the workflow with a different input."""


class TaskTokenError(StackflowError):
    """A task token is malformed, unknown, or no longer waited for (AWS's TaskDoesNotExist)."""


class TaskResourceError(StackflowError):
    """A Task names a resource stackflow cannot run (unknown scheme, missing module)."""


class ProviderError(StackflowError):
    """A resource provider failed; carries a CloudFormation handler error code.

    Attributes:
        message: What went wrong (never a NoEcho value).
        code: A handler error code such as ``InvalidRequest``, ``NotFound`` or
            ``GeneralServiceException`` (see ``stackflow.providers.HandlerErrorCode``).
    """

    def __init__(self, message: str, code: str = "GeneralServiceException") -> None:
        self.message = message
        self.code = code
        super().__init__(message)


class StackError(StackflowError):
    """A stack operation cannot be done (bad state, not found...)."""


class StackNotFoundError(StackError):
    """No live stack has the given name (or id)."""


class StackLockedError(StackError):
    """Another live owner holds the stack's lock."""


class ChangeSetStaleError(StackError):
    """The change set's stack changed since the change set was made."""
