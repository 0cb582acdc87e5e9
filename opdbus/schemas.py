"""The Avro schemas in `schemas/`: loading entity versions and composing them into envelopes.

Layout (DESIGN.md, "Schemas"): `schemas/envelope.avsc` is the event envelope template, written
once, whose before/after unions name the type "__ENTITY__"; `schemas/<entity>/v1.avsc`,
`v2.avsc`, ... are the versions of one entity record, the highest number being current.
`compose()` puts an entity record in place of "__ENTITY__" and renames the envelope
`<entity namespace>.<Entity>Envelope`, e.g. `id.go.pontianak.opdbus.dpmptsp.PermohonanEnvelope`;
the registry subject of an entity holds these composed envelopes.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from fastavro.schema import SchemaParseException, parse_schema

SCHEMAS_DIR = Path(__file__).resolve().parents[1] / "schemas"
ENVELOPE_FILE = "envelope.avsc"
# Stands for the entity record in the template's before/after unions.
ENTITY_PLACEHOLDER = "__ENTITY__"

# No leading zero, so that v1 and v01 cannot both claim version 1.
_VERSION_FILE = re.compile(r"v([1-9][0-9]*)\.avsc")
# Entity names end up in topic names (opd.<opd>.<entity>) and SQL identifiers.
_ENTITY_NAME = re.compile(r"[a-z][a-z0-9_]*")


class SchemaFileError(ValueError):
    """A schema file (or folder) that cannot be used; the message names the file and the problem."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def entities(schemas_dir: Path = SCHEMAS_DIR) -> list[str]:
    """Names of the entity folders under `schemas_dir`, sorted."""
    names = []
    for path in sorted(schemas_dir.iterdir()):
        if not path.is_dir() or path.name.startswith((".", "_")):
            continue
        if not _ENTITY_NAME.fullmatch(path.name):
            raise SchemaFileError(path, "entity folder names must be lower_snake_case")
        names.append(path.name)
    return names


def entity_versions(entity: str, schemas_dir: Path = SCHEMAS_DIR) -> list[dict[str, Any]]:
    """The entity record's versions v1..vN, oldest first, each checked to be valid Avro."""
    return [_load_entity_record(path) for path in _version_files(entity, schemas_dir)]


def compose(entity_record: dict[str, Any], schemas_dir: Path = SCHEMAS_DIR) -> dict[str, Any]:
    """The full envelope schema carrying `entity_record` in `before` and `after`."""
    template_path = schemas_dir / ENVELOPE_FILE
    template = _load_json(template_path)
    name, namespace = _name_and_namespace(entity_record)
    definition = copy.deepcopy(entity_record)
    placed = False

    def substitute(node: Any) -> Any:
        nonlocal placed
        if node == ENTITY_PLACEHOLDER:
            # Avro allows a name to be defined once: later occurrences refer to it by full name.
            if placed:
                return f"{namespace}.{name}"
            placed = True
            return definition
        if isinstance(node, list):
            return [substitute(item) for item in node]
        if isinstance(node, dict):
            return {key: substitute(value) for key, value in node.items()}
        return node

    envelope = substitute(template)
    if not placed:
        raise SchemaFileError(template_path, f"the template has no {ENTITY_PLACEHOLDER!r} type")
    envelope["name"] = f"{name}Envelope"
    envelope["namespace"] = namespace
    return envelope


def subject_versions(entity: str, schemas_dir: Path = SCHEMAS_DIR) -> list[dict[str, Any]]:
    """The composed envelope schema of every version of `entity`, oldest first."""
    composed = []
    for path in _version_files(entity, schemas_dir):
        envelope = compose(_load_entity_record(path), schemas_dir)
        # The envelope can fail where the record alone did not, e.g. a name clash with Source.
        _check_avro(path, envelope, "composed into the envelope, it is not valid Avro")
        composed.append(envelope)
    return composed


def current(entity: str, schemas_dir: Path = SCHEMAS_DIR) -> dict[str, Any]:
    """The composed envelope schema of the newest version of `entity`."""
    return subject_versions(entity, schemas_dir)[-1]


def _version_files(entity: str, schemas_dir: Path) -> list[Path]:
    folder = schemas_dir / entity
    if not folder.is_dir():
        raise SchemaFileError(folder, f"no such entity folder (entities: {entities(schemas_dir)})")
    numbered: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.name.startswith("."):
            continue
        match = _VERSION_FILE.fullmatch(path.name)
        if match is None or not path.is_file():
            raise SchemaFileError(
                path, "not a schema version: an entity folder holds only v1.avsc, v2.avsc, ..."
            )
        numbered[int(match[1])] = path
    if not numbered:
        raise SchemaFileError(folder, "no schema versions: expected v1.avsc")
    for number in range(1, max(numbered) + 1):
        if number not in numbered:
            raise SchemaFileError(
                folder / f"v{number}.avsc",
                f"missing: versions must run v1..v{max(numbered)} without gaps",
            )
    return [numbered[number] for number in sorted(numbered)]


def _load_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SchemaFileError(path, f"cannot read: {exc.strerror}") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SchemaFileError(
            path, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from exc


def _load_entity_record(path: Path) -> dict[str, Any]:
    schema = _load_json(path)
    if not isinstance(schema, dict) or schema.get("type") != "record":
        raise SchemaFileError(path, 'the top level must be an Avro record ("type": "record")')
    _check_avro(path, schema, "not valid Avro")
    if not _name_and_namespace(schema)[1]:
        raise SchemaFileError(path, "the record needs a namespace (id.go.pontianak.opdbus.<opd>)")
    return schema


def _name_and_namespace(record: dict[str, Any]) -> tuple[str, str]:
    name = record["name"]
    if "." in name:
        namespace, _, name = name.rpartition(".")
        return name, namespace
    return name, record.get("namespace", "")


def _check_avro(path: Path, schema: dict[str, Any], what: str) -> None:
    try:
        parse_schema(schema)
    except KeyError as exc:
        raise SchemaFileError(path, f"{what}: missing attribute {exc}") from exc
    except (SchemaParseException, ValueError, TypeError) as exc:
        raise SchemaFileError(path, f"{what}: {exc}") from exc
    problems = _registry_rule_violations(schema)
    if problems:
        raise SchemaFileError(path, f"{what}: {'; '.join(problems)}")


def _registry_rule_violations(node: Any) -> list[str]:
    """Rules fastavro lets pass but Avro Java (hence the registry) refuses."""
    if isinstance(node, list):
        return [problem for branch in node for problem in _registry_rule_violations(branch)]
    if not isinstance(node, dict):
        return []
    kind = node.get("type")
    if kind in ("array", "map"):
        return _registry_rule_violations(node.get("items", node.get("values")))
    if kind not in ("record", "error"):
        return _registry_rule_violations(kind) if isinstance(kind, (dict, list)) else []
    problems = []
    fields = node.get("fields")
    if not fields:
        problems.append(f"record {node['name']!r} has no fields")
    seen: set[str] = set()
    for field in fields or []:
        name, field_type = field["name"], field["type"]
        if name in seen:
            problems.append(f"record {node['name']!r} has two fields named {name!r}")
        seen.add(name)
        if isinstance(field_type, list) and field_type and "default" in field:
            default_is_null = field["default"] is None
            if default_is_null != (field_type[0] in ("null", {"type": "null"})):
                problems.append(
                    f"field {name!r}: a union's default must match its first branch "
                    '(put "null" first for a null default, last otherwise)'
                )
        problems.extend(_registry_rule_violations(field_type))
    return problems
