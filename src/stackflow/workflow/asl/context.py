"""The context object (``$$`` in JSONPath, ``$states.context`` in JSONata) and ARNs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from stackflow.types import JSON, JSONObject


@lru_cache(maxsize=4096)
def iso_time(epoch: float) -> str:
    """Format epoch seconds as Step Functions does: ``2024-01-01T00:00:00.000Z``."""
    moment = datetime.fromtimestamp(epoch, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclass(frozen=True)
class Identity:
    """Names that make up the ARNs of a deployment (configurable, AWS-shaped).

    Attributes:
        partition: ARN partition.
        region: Region name reported in ARNs.
        account: Account id reported in ARNs.
    """

    partition: str = "aws"
    region: str = "local"
    account: str = "000000000000"

    def state_machine_arn(self, workflow: str) -> str:
        """Return the ARN of a workflow (state machine)."""
        return f"arn:{self.partition}:states:{self.region}:{self.account}:stateMachine:{workflow}"

    def execution_arn(self, workflow: str, name: str) -> str:
        """Return the ARN of an execution."""
        return (
            f"arn:{self.partition}:states:{self.region}:{self.account}:execution:{workflow}:{name}"
        )

    def role_arn(self) -> str:
        """Return the role ARN reported in the context object."""
        return f"arn:{self.partition}:iam::{self.account}:role/stackflow"


DEFAULT_IDENTITY = Identity()


def context_object(
    *,
    identity: Identity,
    workflow: str,
    execution_name: str,
    execution_input: JSON,
    start_time: float,
    redrive_count: int,
    state_name: str,
    entered_time: float,
    retry_count: int,
    extra: dict[str, Any] | None = None,
) -> JSONObject:
    """Build the context object of a state.

    Args:
        identity: ARN naming.
        workflow: State machine name.
        execution_name: Execution name.
        execution_input: The execution's input.
        start_time: Execution start (epoch seconds).
        redrive_count: How often the execution was redriven.
        state_name: The current state.
        entered_time: When the state was entered (epoch seconds).
        retry_count: Retries made in the current state.
        extra: Additional top-level members (``Map``, ``Task``).
    """
    ctx: JSONObject = {
        "Execution": {
            "Id": identity.execution_arn(workflow, execution_name),
            "Input": execution_input,
            "Name": execution_name,
            "RoleArn": identity.role_arn(),
            "StartTime": iso_time(start_time),
            "RedriveCount": redrive_count,
        },
        "StateMachine": {"Id": identity.state_machine_arn(workflow), "Name": workflow},
        "State": {
            "EnteredTime": iso_time(entered_time),
            "Name": state_name,
            "RetryCount": retry_count,
        },
    }
    if extra:
        ctx.update(extra)
    return ctx
