"""Avro binary encoding, compiled once per schema into a plain Python function.

fastavro reads and writes one field at a time through a file object and checks each value's
type on the way; for the bus's records (wire values, logical types stripped) that is most of
the cost of every stage. The functions generated here do the same encoding in straight-line
code: a one-byte varint, an optional field or an enum is a couple of bytecode operations.

Only the forms the bus's schemas use are compiled: null, boolean, int, long, float, double,
bytes, string, fixed, record, enum, array, map and optional unions (`["null", T]` in either
order). Anything else (a union of several types, a logicalType left in place) raises
Unsupported, and opdbus.serde keeps fastavro for that schema. Tests hold every compiled
function to fastavro's bytes and values for random records of every schema.
"""

from __future__ import annotations

import itertools
import linecache
import struct
from collections.abc import Callable
from typing import Any

Reader = Callable[[bytes, int], Any]
Writer = Callable[[Any, bytes], bytes]

LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
_COMPILED = itertools.count(1)
PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
KINDS = (*PRIMITIVES, "record", "enum", "array", "map", "fixed")


class Unsupported(ValueError):
    """A schema form this module does not compile (fastavro handles it)."""


class DecodeError(ValueError):
    """Bytes that do not follow the schema."""


def read_long(buf: bytes, pos: int) -> tuple[int, int]:
    """A zig-zag varint of two bytes or more (the generated code reads one-byte ones inline)."""
    b = buf[pos]
    n = b & 0x7F
    shift = 7
    pos += 1
    while b & 0x80:
        if shift > 63:
            raise DecodeError(f"varint at byte {pos} is longer than 10 bytes")
        b = buf[pos]
        n |= (b & 0x7F) << shift
        shift += 7
        pos += 1
    return (n >> 1) ^ -(n & 1), pos


def write_long(out: bytearray, n: int) -> None:
    """A zig-zag varint (the generated code writes values in -64..63 inline)."""
    if not LONG_MIN <= n <= LONG_MAX:
        raise ValueError(f"{n} does not fit Avro's 64-bit long")
    n = (n << 1) ^ (n >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _varint(n: int) -> bytes:
    out = bytearray()
    write_long(out, n)
    return bytes(out)


class _Code:
    """Lines of one generated function, its constants, and the named types seen so far."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.named: dict[str, dict[str, Any]] = {}
        self._names = 0

    def name(self, prefix: str = "v") -> str:
        self._names += 1
        return f"{prefix}{self._names}"

    def constant(self, value: Any) -> str:
        name = self.name("k")
        self.constants[name] = value
        return name

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def resolve(self, schema: Any, namespace: str) -> tuple[Any, str]:
        """The schema a type name stands for (or schema itself), and the namespace inside it.
        Records, enums and fixed types are remembered under their full names."""
        if isinstance(schema, str):
            full = schema if "." in schema or not namespace else f"{namespace}.{schema}"
            found = self.named.get(full, self.named.get(schema))
            if found is not None:
                schema = found
        if isinstance(schema, dict) and schema.get("type") in ("record", "enum", "fixed"):
            if "logicalType" in schema:
                raise Unsupported(f"logicalType {schema['logicalType']!r} is not stripped")
            name = schema["name"]
            space = schema.get("namespace", namespace)
            full = name if "." in name or not space else f"{space}.{name}"
            self.named[full] = schema
            namespace = full.rpartition(".")[0]
        if isinstance(schema, dict) and "logicalType" in schema:
            raise Unsupported(f"logicalType {schema['logicalType']!r} is not stripped")
        if isinstance(schema, dict) and schema["type"] not in KINDS:  # {"type": <a type>}
            return self.resolve(schema["type"], namespace)
        return schema, namespace

    def compile(self, header: str, last: str, names: dict[str, Any]) -> Callable[..., Any]:
        source = "\n".join([header, *self.lines, last]) + "\n"
        # Registered with linecache, so that a traceback shows the generated line.
        filename = f"<opdbus.codec {next(_COMPILED)}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        scope = {**names, **self.constants}
        exec(compile(source, filename, "exec"), scope)
        return scope["generated"]


def _optional_branch(union: list[Any]) -> tuple[int, Any]:
    """(index of null, the other branch) of ["null", T] or [T, "null"]."""
    if len(union) != 2 or "null" not in union:
        raise Unsupported(f"union {union} (only optional unions are compiled)")
    null = union.index("null")
    return null, union[1 - null]


# -- reading --------------------------------------------------------------------------------


def _read_varint(code: _Code, depth: int, target: str) -> None:
    code.line(depth, "b = buf[pos]")
    code.line(depth, "if b < 128:")
    code.line(depth + 1, f"{target} = (b >> 1) ^ -(b & 1)")
    code.line(depth + 1, "pos += 1")
    code.line(depth, "else:")
    code.line(depth + 1, f"{target}, pos = read_long(buf, pos)")


def _read_length(code: _Code, depth: int, what: str) -> None:
    _read_varint(code, depth, "n")
    code.line(depth, "if n < 0:")
    code.line(depth + 1, f"raise DecodeError(f'negative {what} length {{n}} at byte {{pos}}')")


def _read_blocks(code: _Code, depth: int, count: str, item: Callable[[int], None]) -> None:
    """Avro's blocks: a count (negative: followed by the block's byte size), items, then 0."""
    code.line(depth, "while True:")
    _read_varint(code, depth + 1, count)
    code.line(depth + 1, f"if {count} == 0:")
    code.line(depth + 2, "break")
    code.line(depth + 1, f"if {count} < 0:")
    code.line(depth + 2, f"{count} = -{count}")
    _read_varint(code, depth + 2, "n")
    code.line(depth + 1, f"for _ in range({count}):")
    item(depth + 2)


def _read(code: _Code, schema: Any, depth: int, target: str, namespace: str) -> None:
    schema, namespace = code.resolve(schema, namespace)
    if isinstance(schema, list):
        null, branch = _optional_branch(schema)
        code.line(depth, "b = buf[pos]")
        code.line(depth, "pos += 1")
        code.line(depth, f"if b == {2 * null}:")
        code.line(depth + 1, f"{target} = None")
        code.line(depth, f"elif b == {2 * (1 - null)}:")
        _read(code, branch, depth + 1, target, namespace)
        code.line(depth, "else:")
        code.line(depth + 1, "raise DecodeError(f'union branch {b >> 1} at byte {pos - 1}')")
        return
    kind = schema if isinstance(schema, str) else schema["type"]
    if kind == "null":
        code.line(depth, f"{target} = None")
    elif kind == "boolean":
        code.line(depth, "b = buf[pos]")
        code.line(depth, "if b > 1:")
        code.line(depth + 1, "raise DecodeError(f'boolean byte {b} at byte {pos}')")
        code.line(depth, f"{target} = b == 1")
        code.line(depth, "pos += 1")
    elif kind in ("int", "long"):
        _read_varint(code, depth, target)
    elif kind in ("float", "double"):
        size = 4 if kind == "float" else 8
        unpack = code.constant(struct.Struct("<f" if kind == "float" else "<d").unpack_from)
        code.line(depth, f"{target}, = {unpack}(buf, pos)")
        code.line(depth, f"pos += {size}")
    elif kind in ("string", "bytes"):
        _read_length(code, depth, kind)
        decoded = ".decode()" if kind == "string" else ""
        code.line(depth, f"{target} = buf[pos:pos + n]{decoded}")
        code.line(depth, "pos += n")
    elif kind == "fixed":
        code.line(depth, f"{target} = buf[pos:pos + {int(schema['size'])}]")
        code.line(depth, f"pos += {int(schema['size'])}")
    elif kind == "enum":
        symbols = code.constant(tuple(schema["symbols"]))
        _read_varint(code, depth, "n")
        code.line(depth, f"if not 0 <= n < {len(schema['symbols'])}:")
        code.line(depth + 1, "raise DecodeError(f'enum index {n} before byte {pos}')")
        code.line(depth, f"{target} = {symbols}[n]")
    elif kind == "record":
        fields = []
        for field in schema["fields"]:
            value = code.name()
            _read(code, field["type"], depth, value, namespace)
            fields.append(f"{field['name']!r}: {value}")
        code.line(depth, f"{target} = {{{', '.join(fields)}}}")
    elif kind == "array":
        items, count, item = code.name(), code.name(), code.name()
        code.line(depth, f"{items} = []")

        def array_item(inner: int) -> None:
            _read(code, schema["items"], inner, item, namespace)
            code.line(inner, f"{items}.append({item})")

        _read_blocks(code, depth, count, array_item)
        code.line(depth, f"{target} = {items}")
    elif kind == "map":
        items, count, key, item = code.name(), code.name(), code.name(), code.name()
        code.line(depth, f"{items} = {{}}")

        def map_item(inner: int) -> None:
            _read(code, "string", inner, key, namespace)
            _read(code, schema["values"], inner, item, namespace)
            code.line(inner, f"{items}[{key}] = {item}")

        _read_blocks(code, depth, count, map_item)
        code.line(depth, f"{target} = {items}")
    else:
        raise Unsupported(f"type {kind!r}")


def reader(schema: Any) -> Reader:
    """`read(buf, pos)`: the value encoded in buf from pos, which must end exactly at its end."""
    code = _Code()
    _read(code, schema, 1, "value", "")
    code.line(1, "if pos != len(buf):")
    code.line(2, "raise DecodeError(f'the record ends at byte {pos} of {len(buf)}')")
    return code.compile(
        "def generated(buf, pos):",
        "    return value",
        {"read_long": read_long, "DecodeError": DecodeError},
    )


# -- writing --------------------------------------------------------------------------------


def _write_varint(code: _Code, depth: int, value: str) -> None:
    code.line(depth, f"if -64 <= {value} < 64:")
    code.line(depth + 1, f"out.append(({value} << 1) ^ ({value} >> 63))")
    code.line(depth, "else:")
    code.line(depth + 1, f"write_long(out, {value})")


def _write(code: _Code, schema: Any, depth: int, value: str, namespace: str) -> None:
    schema, namespace = code.resolve(schema, namespace)
    if isinstance(schema, list):
        null, branch = _optional_branch(schema)
        code.line(depth, f"if {value} is None:")
        code.line(depth + 1, f"out.append({2 * null})")
        code.line(depth, "else:")
        code.line(depth + 1, f"out.append({2 * (1 - null)})")
        _write(code, branch, depth + 1, value, namespace)
        return
    kind = schema if isinstance(schema, str) else schema["type"]
    if kind == "null":
        code.line(depth, f"if {value} is not None:")
        code.line(depth + 1, f"raise TypeError(f'{{{value}!r}} is not null')")
    elif kind == "boolean":
        code.line(depth, f"out.append(BOOLEAN[{value}])")
    elif kind in ("int", "long"):
        _write_varint(code, depth, value)
    elif kind in ("float", "double"):
        pack = code.constant(struct.Struct("<f" if kind == "float" else "<d").pack)
        code.line(depth, f"out += {pack}({value})")
    elif kind in ("string", "bytes"):
        data = code.name("d") if kind == "string" else value
        if kind == "string":
            code.line(depth, f"{data} = {value}.encode()")
        code.line(depth, f"n = len({data})")
        _write_varint(code, depth, "n")
        code.line(depth, f"out += {data}")
    elif kind == "fixed":
        size = int(schema["size"])
        code.line(depth, f"if len({value}) != {size}:")
        code.line(depth + 1, f"raise ValueError(f'{{len({value})}} bytes for a fixed of {size}')")
        code.line(depth, f"out += {value}")
    elif kind == "enum":
        indexes = {symbol: _varint(i) for i, symbol in enumerate(schema["symbols"])}
        code.line(depth, f"out += {code.constant(indexes)}[{value}]")
    elif kind == "record":
        for field in schema["fields"]:
            item = code.name()
            if "default" not in field:
                code.line(depth, f"{item} = {value}[{field['name']!r}]")
            elif field["default"] is None or isinstance(field["default"], (bool, int, str)):
                code.line(depth, f"{item} = {value}.get({field['name']!r}, {field['default']!r})")
            else:
                raise Unsupported(f"field {field['name']}'s default {field['default']!r}")
            _write(code, field["type"], depth, item, namespace)
    elif kind in ("array", "map"):
        count, item = code.name(), code.name()
        code.line(depth, f"{count} = len({value})")
        code.line(depth, f"if {count}:")
        _write_varint(code, depth + 1, count)
        if kind == "array":
            code.line(depth + 1, f"for {item} in {value}:")
            _write(code, schema["items"], depth + 2, item, namespace)
        else:
            key = code.name()
            code.line(depth + 1, f"for {key}, {item} in {value}.items():")
            _write(code, "string", depth + 2, key, namespace)
            _write(code, schema["values"], depth + 2, item, namespace)
        code.line(depth, "out.append(0)")
    else:
        raise Unsupported(f"type {kind!r}")


def writer(schema: Any) -> Writer:
    """`write(value, prefix)`: prefix followed by value's encoding. Raises (KeyError,
    TypeError, ValueError, AttributeError) for a value that does not fit the schema."""
    code = _Code()
    _write(code, schema, 1, "value", "")
    return code.compile(
        "def generated(value, prefix):\n    out = bytearray(prefix)",
        "    return bytes(out)",
        {"write_long": write_long, "BOOLEAN": {True: 1, False: 0}},
    )
