"""Avro schema compatibility, checked offline with the Avro specification's resolution rules.

The levels mean what they mean in Confluent's and Apicurio's registries: BACKWARD = the new
schema can read data written with the previous one; FORWARD = the previous schema can read data
written with the new one; FULL = both; *_TRANSITIVE = against every earlier version, not just
the previous one. CI runs `check_all(Level.BACKWARD_TRANSITIVE)` on `schemas/` so that a change
the registry would refuse at runtime is refused before it ships.

Named types match by unqualified name or by the reader's aliases, as the specification says and
as fastavro (our decoder) and Avro Java (the registry) do.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from opdbus.schemas import SCHEMAS_DIR, entities, subject_versions


class Level(StrEnum):
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"
    NONE = "NONE"


@dataclass(frozen=True)
class Incompatibility:
    """One reason data written with one schema cannot be read with another."""

    path: str  # fields from the top record, plus the record's name where a union picks it
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<top level>'}: {self.message}"


@dataclass(frozen=True)
class Problem:
    """An incompatibility between two versions (numbered from 1) of one subject."""

    reader_version: int
    writer_version: int
    incompatibility: Incompatibility

    def __str__(self) -> str:
        return (
            f"v{self.reader_version} cannot read data written with v{self.writer_version}: "
            f"{self.incompatibility}"
        )


def incompatibilities(
    reader: Any,
    writer: Any,
    *,
    reader_label: str = "the reader's schema",
    writer_label: str = "the writer's schema",
) -> list[Incompatibility]:
    """Why data written with `writer` cannot be read with `reader`; empty if it can.

    The labels name the two schemas in messages, e.g. "v2" and "v1".
    """
    reader_names: dict[str, dict[str, Any]] = {}
    writer_names: dict[str, dict[str, Any]] = {}
    reader_root = _normalise(reader, "", reader_names)
    writer_root = _normalise(writer, "", writer_names)
    checker = _Checker(reader_names, writer_names, reader_label, writer_label)
    checker.check(reader_root, writer_root, "")
    return checker.found


def check_versions(versions: list[Any], level: Level | str) -> list[Problem]:
    """Problems in a subject's history (oldest first) at `level`; empty means compatible."""
    level = Level(level.upper())
    if level is Level.NONE:
        return []
    transitive = level.name.endswith("_TRANSITIVE")
    backward = level.name.startswith(("BACKWARD", "FULL"))
    forward = level.name.startswith(("FORWARD", "FULL"))
    problems = []
    for new in range(1, len(versions)):
        for old in range(new) if transitive else [new - 1]:
            pairs = [(new, old)] if backward else []
            pairs += [(old, new)] if forward else []
            for reader, writer in pairs:
                problems += [
                    Problem(reader + 1, writer + 1, found)
                    for found in incompatibilities(
                        versions[reader],
                        versions[writer],
                        reader_label=f"v{reader + 1}",
                        writer_label=f"v{writer + 1}",
                    )
                ]
    return problems


def check_all(level: Level | str, schemas_dir: Path = SCHEMAS_DIR) -> dict[str, list[Problem]]:
    """`check_versions` on the composed envelope schemas of every entity."""
    return {
        entity: check_versions(subject_versions(entity, schemas_dir), level)
        for entity in entities(schemas_dir)
    }


_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
_NAMED = frozenset({"record", "enum", "fixed"})
_FIXED_ATTRIBUTES = ("size", "logicalType", "precision", "scale")
# Writer type -> reader types that can read it (the specification's promotions).
_PROMOTIONS = {
    "int": {"long", "float", "double"},
    "long": {"float", "double"},
    "float": {"double"},
    "string": {"bytes"},
    "bytes": {"string"},
}


def _normalise(schema: Any, namespace: str, names: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A copy of `schema` where every node is a dict, names are full and references are
    {"type": "ref", "name": fullname}; named definitions are collected in `names`."""
    if isinstance(schema, list):
        return {"type": "union", "branches": [_normalise(b, namespace, names) for b in schema]}
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return {"type": schema}
        return {"type": "ref", "name": _full_name(schema, namespace)}
    kind = "record" if schema["type"] == "error" else schema["type"]
    if isinstance(kind, (list, dict)) or kind not in _PRIMITIVES | _NAMED | {"array", "map"}:
        # {"type": <schema or name>} wraps another schema.
        return _normalise(kind, namespace, names)
    if kind in ("array", "map"):
        key = "items" if kind == "array" else "values"
        return {"type": kind, key: _normalise(schema[key], namespace, names)}
    if kind in _PRIMITIVES:
        return dict(schema)
    full_name = _full_name(schema["name"], schema.get("namespace", namespace))
    node: dict[str, Any] = {
        "type": kind,
        "name": full_name,
        "aliases": [_short(alias) for alias in schema.get("aliases", [])],
    }
    names[full_name] = node
    if kind == "record":
        inner = full_name.rpartition(".")[0]
        node["fields"] = [
            {
                "name": field["name"],
                "aliases": list(field.get("aliases", [])),
                "has_default": "default" in field,
                "type": _normalise(field["type"], inner, names),
            }
            for field in schema["fields"]
        ]
    elif kind == "enum":
        node["symbols"] = list(schema["symbols"])
        node["has_default"] = "default" in schema
    else:
        node.update({key: schema[key] for key in _FIXED_ATTRIBUTES if key in schema})
    return node


def _full_name(name: str, namespace: str) -> str:
    return name if "." in name or not namespace else f"{namespace}.{name}"


def _short(name: str) -> str:
    return name.rpartition(".")[2]


def _describe(node: dict[str, Any]) -> str:
    kind = node["type"]
    if kind == "ref":
        return _short(node["name"])
    if kind in _NAMED:
        return f"{kind} {_short(node['name'])}"
    if kind == "array":
        return f"array of {_describe(node['items'])}"
    if kind == "map":
        return f"map of {_describe(node['values'])}"
    if kind == "union":
        return "union [" + ", ".join(_describe(b) for b in node["branches"]) + "]"
    if node.get("logicalType") == "decimal":
        return _decimal(node)
    if "logicalType" in node:
        return f"{kind} ({node['logicalType']})"
    return kind


def _decimal(node: dict[str, Any]) -> str:
    return f"decimal({node.get('precision')},{node.get('scale', 0)})"


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class _Checker:
    def __init__(
        self,
        reader_names: dict[str, dict[str, Any]],
        writer_names: dict[str, dict[str, Any]],
        reader_label: str,
        writer_label: str,
    ) -> None:
        self.reader_names = reader_names
        self.writer_names = writer_names
        self.rl = reader_label
        self.wl = writer_label
        self.found: list[Incompatibility] = []
        # Record pairs already checked: stops recursive types, and reports a record that
        # appears twice (before and after) once.
        self.done: set[tuple[str, str]] = set()

    def add(self, path: str, message: str) -> None:
        self.found.append(Incompatibility(path, message))

    def check(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        reader = _deref(reader, self.reader_names)
        writer = _deref(writer, self.writer_names)
        if writer["type"] == "union":
            # Any branch may have been written, so every branch must be readable.
            for branch in writer["branches"]:
                self.check(reader, branch, path)
            return
        if reader["type"] == "union":
            branch = self.pick_branch(reader, writer)
            if branch is None:
                self.add(
                    path,
                    f"type changed from {_describe(writer)} in {self.wl} to {_describe(reader)} "
                    f"in {self.rl}: no branch of the union can read {_describe(writer)}",
                )
                return
            if branch["type"] == "record":
                # Name the branch taken, so a person can tell which record the field is in.
                path = _join(path, _short(branch["name"]))
            self.check(branch, writer, path)
            return
        self.check_same_shape(reader, writer, path)

    def pick_branch(self, union: dict[str, Any], writer: dict[str, Any]) -> dict[str, Any] | None:
        """The reader branch the specification resolves against: an exact match first,
        then one that promotes the writer's type."""
        branches = [_deref(b, self.reader_names) for b in union["branches"]]
        for branch in branches:
            if branch["type"] == writer["type"] and (
                writer["type"] not in _NAMED or _names_match(branch, writer)
            ):
                return branch
        for branch in branches:
            if branch["type"] in _PROMOTIONS.get(writer["type"], ()):
                return branch
        return None

    def check_same_shape(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        r_kind, w_kind = reader["type"], writer["type"]
        if r_kind != w_kind and r_kind not in _PROMOTIONS.get(w_kind, ()):
            self.add(
                path,
                f"type changed from {_describe(writer)} in {self.wl} to {_describe(reader)} "
                f"in {self.rl}: {_describe(writer)} cannot be read as {_describe(reader)}",
            )
            return
        if r_kind in _NAMED and not _names_match(reader, writer):
            self.add(
                path,
                f"{r_kind} renamed from {_short(writer['name'])} in {self.wl} to "
                f"{_short(reader['name'])} in {self.rl}: a rename needs the old name "
                "in the new type's aliases",
            )
            return
        if r_kind == "record":
            self.check_record(reader, writer, path)
        elif r_kind == "enum":
            missing = [s for s in writer["symbols"] if s not in reader["symbols"]]
            if missing and not reader["has_default"]:
                self.add(
                    path,
                    f"enum {_short(reader['name'])}: {self.wl} can write symbol(s) "
                    f"{', '.join(missing)} that {self.rl} does not have, and {self.rl} "
                    "has no enum default to read them as",
                )
        elif r_kind == "fixed" and reader["size"] != writer["size"]:
            self.add(
                path,
                f"fixed {_short(reader['name'])}: size changed from {writer['size']} in "
                f"{self.wl} to {reader['size']} in {self.rl}",
            )
        elif r_kind == "array":
            self.check(reader["items"], writer["items"], path + "[]")
        elif r_kind == "map":
            self.check(reader["values"], writer["values"], path + "{}")
        # Logical types resolve as their underlying type, except decimals (specification:
        # they match only if scale and precision match; a new scale would silently rescale).
        if reader.get("logicalType") == writer.get("logicalType") == "decimal":
            r_decimal, w_decimal = _decimal(reader), _decimal(writer)
            if r_decimal != w_decimal:
                self.add(
                    path,
                    f"type changed from {w_decimal} in {self.wl} to {r_decimal} in {self.rl}: "
                    "decimals resolve only when precision and scale are equal",
                )

    def check_record(self, reader: dict[str, Any], writer: dict[str, Any], path: str) -> None:
        pair = (reader["name"], writer["name"])
        if pair in self.done:
            return
        self.done.add(pair)
        writer_fields = {field["name"]: field for field in writer["fields"]}
        for field in reader["fields"]:
            match = writer_fields.get(field["name"]) or next(
                (writer_fields[a] for a in field["aliases"] if a in writer_fields), None
            )
            field_path = _join(path, field["name"])
            if match is not None:
                self.check(field["type"], match["type"], field_path)
            elif not field["has_default"]:
                self.add(
                    field_path,
                    f"field {field['name']!r} is in {self.rl} but not in {self.wl} and has no "
                    f"default: data written with {self.wl} has no value for it",
                )
        # Writer fields the reader lacks are skipped when reading: never a problem.


def _deref(node: dict[str, Any], names: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if node["type"] != "ref":
        return node
    # A bare name may also refer to a type in the null namespace.
    found = names.get(node["name"]) or names.get(_short(node["name"]))
    if found is None:
        raise ValueError(f"unknown Avro type {node['name']!r}")
    return found


def _names_match(reader: dict[str, Any], writer: dict[str, Any]) -> bool:
    writer_name = _short(writer["name"])
    return writer_name == _short(reader["name"]) or writer_name in reader["aliases"]
