"""What an ASL Task state can call: resources, requests and handlers."""

from stackflow.workflow.tasks.base import (
    EXEC_RESOURCE,
    HTTP_INVOKE_RESOURCE,
    PYTHON_RESOURCE_PREFIX,
    HandlerFactory,
    ResourceKind,
    TaskHandler,
    TaskRequest,
    is_supported_resource,
    register_resource,
    resolve_task,
    supported_resource_forms,
)

__all__ = [
    "EXEC_RESOURCE",
    "HTTP_INVOKE_RESOURCE",
    "PYTHON_RESOURCE_PREFIX",
    "HandlerFactory",
    "ResourceKind",
    "TaskHandler",
    "TaskRequest",
    "is_supported_resource",
    "register_resource",
    "resolve_task",
    "supported_resource_forms",
]
