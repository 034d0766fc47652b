"""``stackflow validate`` for stack templates: the template language and each resource's schema.

A document with a top-level ``Resources`` or ``AWSTemplateFormatVersion`` key is a template. It is
checked as ``stack plan`` would check it, without a store: parameters take their defaults (or the
``--param`` values), pseudo parameters their local values with the stack name ``validate``,
``Fn::ImportValue`` is not checked, and every active resource's resolved properties are checked
against its provider's schema. A parameter without a Default that was not given is reported as
needing a value; the rest of the template is still checked, with that parameter's value unknown.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from stackflow.errors import Problem, SourceLocation, TemplateError
from stackflow.sourcemap import join_pointer
from stackflow.template import (
    KNOWN_AFTER_APPLY,
    LoadedTemplate,
    ParameterValue,
    PreparedTemplate,
    PseudoParameters,
    load_template,
    prepare_template,
)

if TYPE_CHECKING:
    from stackflow.providers import ProviderRegistry

#: Stack name used for ``AWS::StackName`` while validating.
VALIDATE_STACK_NAME = "validate"
#: ``AWS::StackId`` used while validating.
VALIDATE_STACK_ID = (
    "arn:stackflow:cloudformation:local:000000000000:stack/validate/"
    "00000000-0000-0000-0000-000000000000"
)
#: ``Fn::GetAZs`` zones while validating (the stack service's default).
VALIDATE_ZONES = {"local": ["locala"]}
#: Problem code of a parameter that has no Default and was not given.
MISSING_PARAMETER = "PARAMETER_VALUE_MISSING"
#: Problem code of a resource type no provider implements.
UNKNOWN_TYPE = "UNKNOWN_RESOURCE_TYPE"

_TEMPLATE_KEYS = ("Resources", "AWSTemplateFormatVersion")
# A top-level template key in text that does not parse (YAML at column 1, or a JSON member).
_TEMPLATE_KEY_RE = re.compile(
    r'^(?:Resources|AWSTemplateFormatVersion)\s*:|"AWSTemplateFormatVersion"\s*:', re.MULTILINE
)
# Parameter attributes a placeholder value might not satisfy (dropped while validating).
_CONSTRAINTS = ("AllowedPattern", "MinLength", "MaxLength", "MinValue", "MaxValue")
_MASK = "****"


def parse_param_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """Turn ``--param KEY=VALUE`` options into a mapping (a later KEY wins).

    Args:
        pairs: The option values.

    Returns:
        Parameter values by name.

    Raises:
        click.BadParameter: A value without ``=`` or with an empty key (exit status 2).
    """
    values: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="'--param'")
        values[key.strip()] = value
    return values


def is_template_text(text: str, *, file: str | None = None) -> bool:
    """Tell whether a document is a stack template rather than a workflow definition.

    Args:
        text: The document text (JSON or YAML).
        file: Its file name (``*.json`` is always read as JSON).

    Returns:
        True when the top level has ``Resources`` or ``AWSTemplateFormatVersion``; for text
        that does not parse, when such a key appears at the start of a line (YAML) or as
        a JSON member ``"AWSTemplateFormatVersion"``.
    """
    try:
        document = load_template(text, file=file).document
    except TemplateError:
        return _TEMPLATE_KEY_RE.search(text) is not None
    return any(key in document for key in _TEMPLATE_KEYS)


def template_problems(
    file: str, parameters: Mapping[str, str] | None = None
) -> list[Problem] | None:
    """Validate ``file`` if it is a stack template.

    Args:
        file: Path of the document.
        parameters: Parameter values given with ``--param``.

    Returns:
        Every problem found (empty when valid), or None when the file is not a template or
        cannot be read (the workflow validator then reports it).
    """
    try:
        text = Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not is_template_text(text, file=file):
        return None
    return check_template_text(text, file=file, parameters=parameters)


def check_template_text(
    text: str,
    *,
    file: str | None = None,
    parameters: Mapping[str, str] | None = None,
    registry: ProviderRegistry | None = None,
) -> list[Problem]:
    """Check a template: syntax, the template language, resource types and properties.

    Args:
        text: The template text (JSON or YAML).
        file: File name for locations; relative paths in properties are not resolved.
        parameters: Parameter values (strings); the others take their Default.
        registry: A :class:`~stackflow.providers.ProviderRegistry` (default: the built-in
            types and installed plugins).

    Returns:
        Every problem found, in file order, each located by file:line:column and pointer.
    """
    try:
        loaded = load_template(text, file=file)
    except TemplateError as exc:
        return list(exc.problems)
    if registry is None:
        from stackflow.providers import default_registry

        registry = default_registry()
    return _Check(loaded, dict(parameters or {}), registry).run()


class _UnknownValues:
    """Resource values before anything exists: every id and attribute is known after apply."""

    def physical_id(self, logical_id: str) -> Any:
        """Return KNOWN_AFTER_APPLY."""
        return KNOWN_AFTER_APPLY

    def attribute(self, logical_id: str, name: str) -> Any:
        """Return KNOWN_AFTER_APPLY."""
        return KNOWN_AFTER_APPLY


class _Check:
    """One validation run over a loaded template."""

    def __init__(
        self, loaded: LoadedTemplate, given: dict[str, str], registry: ProviderRegistry
    ) -> None:
        self.loaded = loaded
        self.given = given
        self.registry = registry
        self.problems: list[Problem] = []
        self.secrets: list[str] = []

    def run(self) -> list[Problem]:
        """Check everything; return the problems in file order."""
        document: dict[str, Any] = self.loaded.document
        missing = self._missing_parameters(document)
        checked = self.loaded
        if missing:
            checked = LoadedTemplate(_with_placeholders(document, missing), self.loaded.source_map)
        pseudo = PseudoParameters(
            stack_name=VALIDATE_STACK_NAME,
            stack_id=VALIDATE_STACK_ID,
            availability_zones=VALIDATE_ZONES,
        )
        try:
            prepared = prepare_template(
                checked, self.given, pseudo, attribute_names=self._attribute_names
            )
        except TemplateError as exc:
            self.problems.extend(exc.problems)
            self._check_types(document.get("Resources"))
            return _in_file_order(self.problems)
        self._forget_placeholders(prepared, missing)
        self.secrets = _secret_values(prepared)
        self._check_types(prepared.document.get("Resources"))
        self._check_properties(prepared)
        return _in_file_order(self.problems)

    def _missing_parameters(self, document: dict[str, Any]) -> list[str]:
        declarations = document.get("Parameters")
        if not isinstance(declarations, dict):
            return []
        missing = []
        for name, declaration in declarations.items():
            if (
                isinstance(declaration, dict)
                and isinstance(declaration.get("Type"), str)
                and declaration.get("Default") is None
                and name not in self.given
            ):
                missing.append(name)
                self.problems.append(
                    Problem(
                        self.loaded.locate(join_pointer("/Parameters", name)),
                        f"Parameters: [{name}] needs a value: it has no Default; "
                        f"pass --param {name}=VALUE.",
                        MISSING_PARAMETER,
                    )
                )
        return missing

    def _forget_placeholders(self, prepared: PreparedTemplate, missing: list[str]) -> None:
        """Make the placeholder parameters unknown, so no property check depends on them."""
        for name in missing:
            value = prepared.parameters.get(name)
            if value is not None:
                prepared.parameters[name] = ParameterValue(
                    name, value.type, KNOWN_AFTER_APPLY, value.no_echo
                )

    def _attribute_names(self, type_name: str) -> frozenset[str] | None:
        provider = self.registry.find(type_name)
        if provider is None:
            return None
        return provider.attribute_names()

    def _check_types(self, resources: Any) -> None:
        if not isinstance(resources, dict):
            return
        for logical_id, body in resources.items():
            if not isinstance(body, dict) or str(logical_id).startswith("Fn::ForEach::"):
                continue
            type_name = body.get("Type")
            if not isinstance(type_name, str) or not type_name:
                continue
            if self.registry.find(type_name) is not None:
                continue
            try:
                self.registry.get(type_name)
            except Exception as exc:  # ProviderError naming close matches
                message = getattr(exc, "message", None) or str(exc)
                pointer = join_pointer("/Resources", logical_id, "Type")
                self.problems.append(Problem(self.loaded.locate(pointer), message, UNKNOWN_TYPE))

    def _check_properties(self, prepared: PreparedTemplate) -> None:
        values = _UnknownValues()
        for logical_id, declaration in prepared.resources.items():
            provider = self.registry.find(declaration.type)
            if provider is None:
                continue
            pointer = join_pointer(declaration.pointer, "Properties")
            try:
                properties = prepared.resolve_properties(logical_id, values)
            except TemplateError as exc:
                self.problems.extend(exc.problems)
                continue
            for problem in provider.check(properties, pointer=pointer):
                self.problems.append(
                    Problem(
                        self._locate(problem.location),
                        _mask(problem.message, self.secrets),
                        problem.code,
                    )
                )

    def _locate(self, location: SourceLocation) -> SourceLocation:
        """Locate a pointer; a resource made by Fn::ForEach points into the loop's template."""
        pointer = location.pointer
        parts = pointer.split("/")
        if len(parts) >= 3 and parts[1] == "Resources":
            resource = "/".join(parts[:3])
            if self.loaded.source_map.position(resource) is None:
                section = self.loaded.document.get("Resources")
                origin = _foreach_origin(section, "/Resources", _unescape(parts[2]))
                if origin is not None:
                    found = self.loaded.locate("/".join([origin, *parts[3:]]))
                    return SourceLocation(found.file, found.line, found.column, pointer)
        return self.loaded.locate(pointer)


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _foreach_origin(section: Any, pointer: str, logical_id: str) -> str | None:
    """Return the pointer of the Fn::ForEach output template that produced ``logical_id``."""
    if not isinstance(section, dict):
        return None
    for key, value in section.items():
        if not (str(key).startswith("Fn::ForEach::") and isinstance(value, list)):
            continue
        if len(value) != 3 or not isinstance(value[2], dict):
            continue
        outputs = join_pointer(pointer, key, 2)
        for name, body in value[2].items():
            if str(name).startswith("Fn::ForEach::"):
                found = _foreach_origin({name: body}, outputs, logical_id)
                if found is not None:
                    return found
            elif _key_pattern(str(name)).fullmatch(logical_id):
                return join_pointer(outputs, name)
    return None


def _key_pattern(key: str) -> re.Pattern[str]:
    """Turn an Fn::ForEach output key such as ``File${Name}`` into a regular expression."""
    pieces = re.split(r"[$&]\{[^}]*\}", key)
    return re.compile(".+?".join(re.escape(piece) for piece in pieces))


def _with_placeholders(document: dict[str, Any], missing: list[str]) -> dict[str, Any]:
    """Copy the document giving each missing parameter a Default it satisfies.

    The placeholder's constraints are dropped, and so is the Rules section (rules cannot be
    judged without the real values).
    """
    copy = dict(document)
    declarations = dict(copy["Parameters"])
    for name in missing:
        declaration = {k: v for k, v in declarations[name].items() if k not in _CONSTRAINTS}
        allowed = declaration.get("AllowedValues")
        first = _first_text(allowed) if isinstance(allowed, list) else None
        if first is None:
            declaration.pop("AllowedValues", None)
            number = declaration.get("Type") in ("Number", "List<Number>")
            declaration["Default"] = "0" if number else "placeholder"
        else:
            declaration["Default"] = first
        declarations[name] = declaration
    copy["Parameters"] = declarations
    copy.pop("Rules", None)
    return copy


def _first_text(allowed: list[Any]) -> str | None:
    if not allowed:
        return None
    first = allowed[0]
    if isinstance(first, bool) or not isinstance(first, str | int | float):
        return None
    return str(first)


def _secret_values(prepared: PreparedTemplate) -> list[str]:
    """Return the values of the NoEcho parameters, longest first."""
    found: set[str] = set()
    for parameter in prepared.parameters.values():
        if not parameter.no_echo:
            continue
        value = parameter.value
        items = value if isinstance(value, list) else [value]
        found.update(str(item) for item in items if isinstance(item, str) and item)
        if isinstance(value, list) and value:
            found.add(",".join(str(item) for item in value))
    return sorted(found, key=len, reverse=True)


def _mask(message: str, secrets: list[str]) -> str:
    for secret in secrets:
        message = message.replace(secret, _MASK)
    return message


def _in_file_order(problems: list[Problem]) -> list[Problem]:
    """Sort problems by line and column (unknown positions last), keeping ties in order."""
    big = 1 << 30

    def key(problem: Problem) -> tuple[int, int]:
        loc = problem.location
        return (
            loc.line if loc.line is not None else big,
            loc.column if loc.column is not None else big,
        )

    return sorted(problems, key=key)
