"""Resource providers: the resource types a stack template can declare.

See :mod:`stackflow.providers.base` for the interface, :mod:`stackflow.providers.registry` for
lookup (built-ins and the ``stackflow.providers`` entry point group) and
:func:`stackflow.providers.handler.run_handler` for driving a handler to completion.
"""

from stackflow.providers.base import (
    HandlerErrorCode,
    HandlerStatus,
    ProgressEvent,
    Provider,
    ProviderContext,
    ReadResult,
    ResourceRequest,
    ResourceSchema,
    WorkflowDeployer,
)
from stackflow.providers.handler import run_handler
from stackflow.providers.registry import ENTRY_POINT_GROUP, ProviderRegistry, default_registry

__all__ = [
    "ENTRY_POINT_GROUP",
    "HandlerErrorCode",
    "HandlerStatus",
    "ProgressEvent",
    "Provider",
    "ProviderContext",
    "ProviderRegistry",
    "ReadResult",
    "ResourceRequest",
    "ResourceSchema",
    "WorkflowDeployer",
    "default_registry",
    "run_handler",
]
