"""The CloudFormation template language (pure: no I/O except :func:`load_template_file`).

Load a template (JSON or YAML with short-form tags), expand ``AWS::LanguageExtensions``, and
prepare it for planning: parameter values, conditions, active resources, the dependency graph
and resolution of properties and outputs.
"""

from typing import Any

from stackflow.template.extensions import expand_template as _expand
from stackflow.template.loader import LoadedTemplate, load_template, load_template_file
from stackflow.template.model import (
    KNOWN_AFTER_APPLY,
    ParameterValue,
    PseudoParameters,
    ResolvedOutput,
    ResourceDeclaration,
    ResourceValues,
    Unknown,
)
from stackflow.template.prepare import PreparedTemplate, prepare_template


def expand_template(document: dict[str, Any]) -> dict[str, Any]:
    """Apply ``AWS::LanguageExtensions`` (Fn::ForEach and what it resolves) to a template.

    Args:
        document: The template as a dict.

    Returns:
        The processed template.

    Raises:
        TemplateError: For an invalid template.
    """
    return _expand(document)


__all__ = [
    "KNOWN_AFTER_APPLY",
    "LoadedTemplate",
    "ParameterValue",
    "PreparedTemplate",
    "PseudoParameters",
    "ResolvedOutput",
    "ResourceDeclaration",
    "ResourceValues",
    "Unknown",
    "expand_template",
    "load_template",
    "load_template_file",
    "prepare_template",
]
