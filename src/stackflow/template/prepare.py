"""Prepare a loaded template for planning: parameters, conditions, resources and their graph."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stackflow.errors import Problem, SourceLocation, TemplateError
from stackflow.graph.dag import find_cycle, topological_order
from stackflow.sourcemap import SourceMap, join_pointer
from stackflow.template.conditions import ConditionTable, check_mappings, check_rules
from stackflow.template.dependencies import find_references
from stackflow.template.extensions import expand_foreach
from stackflow.template.intrinsics import Evaluator, is_opaque
from stackflow.template.loader import LoadedTemplate
from stackflow.template.model import (
    KNOWN_AFTER_APPLY,
    LANGUAGE_EXTENSIONS,
    NO_VALUE,
    PSEUDO_PARAMETERS,
    ParameterValue,
    Problems,
    PseudoParameters,
    ResolvedOutput,
    ResourceDeclaration,
    ResourceValues,
    template_error,
)
from stackflow.template.parameters import resolve_parameters
from stackflow.workflow.asl.validate_context import did_you_mean

SECTIONS = (
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Rules",
    "Mappings",
    "Conditions",
    "Transform",
    "Resources",
    "Outputs",
)
RESOURCE_ATTRIBUTES = (
    "Type",
    "Properties",
    "DependsOn",
    "Condition",
    "DeletionPolicy",
    "UpdateReplacePolicy",
    "CreationPolicy",
    "UpdatePolicy",
    "Metadata",
)
OUTPUT_KEYS = ("Value", "Description", "Condition", "Export")
_POLICIES = ("Delete", "Retain", "Snapshot", "RetainExceptOnCreate")


class _UnknownValues:
    """Resource values before anything exists: every id and attribute is unknown."""

    def physical_id(self, logical_id: str) -> Any:
        return KNOWN_AFTER_APPLY

    def attribute(self, logical_id: str, name: str) -> Any:
        return KNOWN_AFTER_APPLY


class _Env:
    """References in resolve mode."""

    partial = False

    def __init__(
        self,
        template: PreparedTemplate,
        pseudo: PseudoParameters,
        imports: Mapping[str, Any] | None,
        attribute_names: Callable[[str], frozenset[str] | None] | None,
    ) -> None:
        self.template = template
        self.pseudo = pseudo
        self.imports = imports
        self.attribute_names = attribute_names
        self.mappings: dict[str, Any] = {}
        self.declared: dict[str, Any] = {}
        self.values: ResourceValues = _UnknownValues()
        self.table: ConditionTable | None = None

    def _error(self, pointer: str, message: str) -> TemplateError:
        return template_error(self.template.locate, pointer, message)

    def _resource(self, name: str, pointer: str) -> None:
        if name not in self.template.resources:
            raise self._error(
                pointer,
                f"Template format error: Unresolved resource dependencies "
                f"[{name}]: resource {name!r} is not created because its "
                "Condition is false.",
            )

    def ref(self, name: str, pointer: str, in_condition: bool) -> Any:
        parameter = self.template.parameters.get(name)
        if parameter is not None:
            return parameter.value
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO_PARAMETERS:
            return self.pseudo.value(name)
        if name in self.declared:
            if in_condition:
                raise self._error(
                    pointer, f"Template error: Conditions cannot refer to resources (Ref {name})."
                )
            self._resource(name, pointer)
            return self.values.physical_id(name)
        raise self._error(
            pointer,
            f"Template format error: Unresolved resource dependencies "
            f"[{name}] in the Resources block of the template: {name!r} is not a "
            f"parameter, resource or pseudo parameter."
            + did_you_mean(name, [*self.declared, *self.template.parameters]),
        )

    def get_att(self, logical_id: str, attribute: str, pointer: str) -> Any:
        if logical_id not in self.declared:
            raise self._error(
                pointer,
                f"Template error: Fn::GetAtt refers to {logical_id!r}, "
                "which is not a resource." + did_you_mean(logical_id, list(self.declared)),
            )
        self._resource(logical_id, pointer)
        declaration = self.template.resources[logical_id]
        names = self.attribute_names(declaration.type) if self.attribute_names else None
        if names is not None and attribute not in names:
            raise self._error(
                pointer,
                f"Template error: resource {logical_id!r} of type "
                f"{declaration.type} has no attribute {attribute!r}."
                + did_you_mean(attribute, sorted(names)),
            )
        try:
            return self.values.attribute(logical_id, attribute)
        except KeyError:
            raise self._error(
                pointer, f"Template error: resource {logical_id!r} has no attribute {attribute!r}."
            ) from None

    def condition(self, name: str, pointer: str) -> bool | None:
        assert self.table is not None
        return self.table.value(name, pointer)

    def import_value(self, name: str, pointer: str) -> Any:
        self.template.imports_found.add(name)
        if self.imports is None:
            return KNOWN_AFTER_APPLY
        if name not in self.imports:
            raise self._error(pointer, f"No export named {name} found (Fn::ImportValue).")
        return self.imports[name]

    def get_azs(self, region: str, pointer: str) -> Any:
        region = region or self.pseudo.region
        zones = self.pseudo.availability_zones.get(region)
        if zones is None:
            return [f"{region}{suffix}" for suffix in "abc"]
        return list(zones)

    def is_defined(self, name: str) -> bool:
        return (
            name in self.template.parameters or name in self.declared or name in PSEUDO_PARAMETERS
        )

    def is_resource(self, name: str) -> bool:
        return name in self.declared


class PreparedTemplate:
    """A checked template with parameter values, conditions and a dependency graph.

    Attributes:
        document: The template (after Fn::ForEach expansion when the transform is declared).
        source_map: Positions for error locations.
        description: The template's Description.
        parameters: Parameter values by name.
        conditions: Condition values by name.
        resources: Declarations of the resources whose Condition is true.
        dependencies: For each resource, the ids it needs (Ref, GetAtt, Sub, DependsOn).
        order: A valid creation order (template order among independent resources).
        imports: Export names used by Fn::ImportValue.
    """

    def __init__(self, document: dict[str, Any], source_map: SourceMap) -> None:
        """Create an empty prepared template (use :func:`prepare_template`)."""
        self.document = document
        self.source_map = source_map
        self.description: str | None = None
        self.parameters: dict[str, ParameterValue] = {}
        self.conditions: dict[str, bool] = {}
        self.resources: dict[str, ResourceDeclaration] = {}
        self.dependencies: dict[str, frozenset[str]] = {}
        self.order: list[str] = []
        self.imports: frozenset[str] = frozenset()
        self.imports_found: set[str] = set()
        self.outputs: dict[str, dict[str, Any]] = {}
        self._env: _Env | None = None
        self._evaluator: Evaluator | None = None

    def locate(self, pointer: str) -> SourceLocation:
        """Return where ``pointer`` is in the template text.

        Args:
            pointer: An RFC 6901 JSON pointer.

        Returns:
            The location (line and column when known).
        """
        return self.source_map.locate(pointer)

    def _evaluate(self, node: Any, pointer: str, values: ResourceValues) -> Any:
        assert self._env is not None and self._evaluator is not None
        self._env.values = values
        try:
            return self._evaluator.evaluate(node, pointer)
        finally:
            self._env.values = _UnknownValues()

    def resolve_properties(self, logical_id: str, values: ResourceValues) -> dict[str, Any]:
        """Resolve a resource's properties.

        Args:
            logical_id: An active resource.
            values: Physical ids and attributes of the other resources.

        Returns:
            The properties with every intrinsic function evaluated and AWS::NoValue removed;
            values that depend on resources not created yet are KNOWN_AFTER_APPLY.

        Raises:
            TemplateError: On a bad use of an intrinsic function.
            KeyError: If ``logical_id`` is not an active resource.
        """
        declaration = self.resources[logical_id]
        result = self._evaluate(
            declaration.properties, join_pointer(declaration.pointer, "Properties"), values
        )
        if not isinstance(result, dict):
            raise template_error(
                self.locate,
                join_pointer(declaration.pointer, "Properties"),
                "Properties must be an object.",
            )
        return result

    def resolve_outputs(self, values: ResourceValues) -> dict[str, ResolvedOutput]:
        """Resolve the outputs whose Condition is true.

        Args:
            values: Physical ids and attributes of the resources.

        Returns:
            Each output's value, export name and description by name.

        Raises:
            TemplateError: On a bad use of an intrinsic function.
        """
        result: dict[str, ResolvedOutput] = {}
        for name, body in self.outputs.items():
            pointer = join_pointer("/Outputs", name)
            value = self._evaluate(body.get("Value"), join_pointer(pointer, "Value"), values)
            if value is NO_VALUE:
                raise template_error(
                    self.locate,
                    join_pointer(pointer, "Value"),
                    "An output value cannot be AWS::NoValue.",
                )
            export_name = None
            export = body.get("Export")
            if isinstance(export, dict) and "Name" in export:
                export_name = self._evaluate(
                    export["Name"], join_pointer(pointer, "Export", "Name"), values
                )
            description = body.get("Description")
            result[name] = ResolvedOutput(
                value, export_name, description if isinstance(description, str) else None
            )
        return result


def _transforms(document: dict[str, Any], problems: Problems) -> bool:
    transform = document.get("Transform")
    if transform is None:
        return False
    names = transform if isinstance(transform, list) else [transform]
    enabled = False
    for name in names:
        if name == LANGUAGE_EXTENSIONS:
            enabled = True
        else:
            problems.add(
                "/Transform",
                f"Unsupported transform {name!r}; stackflow supports {LANGUAGE_EXTENSIONS} only.",
            )
    return enabled


def _check_sections(document: dict[str, Any], problems: Problems) -> None:
    for key in document:
        if key not in SECTIONS:
            problems.add(
                join_pointer("", key),
                f"Template format error: Invalid template "
                f"property or properties [{key}]." + did_you_mean(key, SECTIONS),
            )
    version = document.get("AWSTemplateFormatVersion")
    if version is not None and str(version) != "2010-09-09":
        problems.add("/AWSTemplateFormatVersion", "AWSTemplateFormatVersion must be '2010-09-09'.")
    if "Description" in document and not isinstance(document["Description"], str):
        problems.add("/Description", "Description must be a string.")
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        problems.add(
            "/Resources",
            "Template format error: At least one Resources member must "
            "be defined (Resources must be a non-empty object).",
        )


def prepare_template(
    loaded: LoadedTemplate,
    parameters: Mapping[str, str] | None,
    pseudo: PseudoParameters,
    *,
    imports: Mapping[str, Any] | None = None,
    attribute_names: Callable[[str], frozenset[str] | None] | None = None,
) -> PreparedTemplate:
    """Check a template and compute everything needed to plan and apply it.

    Args:
        loaded: The loaded template.
        parameters: Parameter values given by the user (strings).
        pseudo: Pseudo parameter values.
        imports: Values of exports by name (for Fn::ImportValue); None = not checked.
        attribute_names: For a resource type, its GetAtt attribute names (None = any).

    Returns:
        The prepared template.

    Raises:
        TemplateError: With every problem found (each with file:line:column and pointer).
    """
    from stackflow.template.resources import declare_resources, prepare_outputs

    document = loaded.document
    problems = Problems(loaded.locate)
    _check_sections(document, problems)
    extensions = _transforms(document, problems)
    problems.raise_if_any()
    prepared = PreparedTemplate(document, loaded.source_map)
    description = document.get("Description")
    prepared.description = description if isinstance(description, str) else None
    prepared.parameters = resolve_parameters(document.get("Parameters"), parameters, problems)
    problems.raise_if_any()
    env = _Env(prepared, pseudo, imports, attribute_names)
    evaluator = Evaluator(env, loaded.locate)
    prepared._env, prepared._evaluator = env, evaluator
    mappings = document.get("Mappings", {})
    check_mappings(mappings, loaded.locate)
    env.mappings = mappings
    if extensions:
        document = expand_foreach(
            document, lambda node, ptr: evaluator.evaluate(node, ptr), loaded.locate
        )
        prepared.document = document
    env.declared = dict(document["Resources"])
    table = ConditionTable(document.get("Conditions"), evaluator, loaded.locate)
    env.table = table
    prepared.conditions = {k: bool(v) for k, v in table.evaluate_all().items()}
    for pointer, message in check_rules(document.get("Rules"), evaluator, loaded.locate):
        problems.add(pointer, message, "RULE_FAILED")
    problems.raise_if_any()
    declare_resources(prepared, document["Resources"], table, evaluator, problems)
    prepare_outputs(prepared, document.get("Outputs"), table, problems)
    problems.raise_if_any()
    _graph(prepared, table, problems)
    problems.raise_if_any()
    _dry_run(prepared, problems)
    problems.raise_if_any()
    prepared.imports = frozenset(prepared.imports_found)
    return prepared


def _graph(prepared: PreparedTemplate, table: ConditionTable, problems: Problems) -> None:
    env = prepared._env
    assert env is not None

    def condition(name: str) -> bool | None:
        return table.values.get(name)

    deps: dict[str, frozenset[str]] = {}
    for lid, decl in prepared.resources.items():
        needed: list[str] = []
        body = env.declared[lid]
        for key in ("Properties", "Metadata", "CreationPolicy", "UpdatePolicy"):
            node = body.get(key)
            for ref in find_references(node, join_pointer(decl.pointer, key), condition):
                if _check_reference(prepared, ref.name, ref.pointer, problems):
                    needed.append(ref.name)
        for i, target in enumerate(decl.depends_on):
            pointer = join_pointer(decl.pointer, "DependsOn", i)
            if target not in env.declared:
                problems.add(
                    pointer,
                    f"Template format error: Unresolved resource dependencies "
                    f"[{target}] in the DependsOn of {lid!r}."
                    + did_you_mean(target, list(env.declared)),
                )
            elif target not in prepared.resources:
                problems.add(
                    pointer,
                    f"DependsOn names {target!r}, which is not created "
                    "because its Condition is false.",
                )
            else:
                needed.append(target)
        deps[lid] = frozenset(needed)
    for name, body in prepared.outputs.items():
        pointer = join_pointer("/Outputs", name)
        for ref in find_references(body, pointer, condition):
            _check_reference(prepared, ref.name, ref.pointer, problems)
    prepared.dependencies = deps
    rank = {lid: i for i, lid in enumerate(prepared.resources)}
    ordered = {lid: sorted(d, key=rank.__getitem__) for lid, d in deps.items()}
    cycle = find_cycle(ordered)
    if cycle:
        problems.add(
            join_pointer("/Resources", cycle[0]),
            f"Circular dependency between resources: {' -> '.join(cycle)}.",
            "CIRCULAR_DEPENDENCY",
        )
        return
    prepared.order = topological_order(ordered)


def _check_reference(
    prepared: PreparedTemplate, name: str, pointer: str, problems: Problems
) -> bool:
    env = prepared._env
    assert env is not None
    if name in prepared.parameters or name in PSEUDO_PARAMETERS:
        return False
    if name not in env.declared:
        problems.add(
            pointer,
            f"Template format error: Unresolved resource dependencies [{name}] "
            "in the Resources block of the template."
            + did_you_mean(name, [*env.declared, *prepared.parameters]),
        )
        return False
    if name not in prepared.resources:
        problems.add(
            pointer,
            f"Template format error: Unresolved resource dependencies [{name}]: "
            f"resource {name!r} is not created because its Condition is false.",
        )
        return False
    return True


def _dry_run(prepared: PreparedTemplate, problems: Problems) -> None:
    unknown = _UnknownValues()
    for lid in prepared.order:
        try:
            prepared.resolve_properties(lid, unknown)
        except TemplateError as exc:
            problems.items.extend(exc.problems)
    try:
        resolved = prepared.resolve_outputs(unknown)
    except TemplateError as exc:
        problems.items.extend(exc.problems)
        return
    for name, output in resolved.items():
        if output.export_name is not None and not (
            isinstance(output.export_name, str) or is_opaque(output.export_name)
        ):
            problems.add(
                join_pointer("/Outputs", name, "Export", "Name"), "Export.Name must be a string."
            )


__all__ = ["PreparedTemplate", "Problem", "did_you_mean", "prepare_template"]
