"""Avro in Confluent's wire format: magic byte 0, 4-byte big-endian schema id, Avro body.

Every Kafka tool an analyst knows reads this format. Encoding and decoding use fastavro's
schemaless reader and writer; schemas are fetched from the registry once per id and cached,
never per message.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

MAGIC = 0
HEADER = struct.Struct(">bI")


def strip_logical(schema: Any) -> Any:
    """The schema with every logicalType removed: records decode to (and encode from) their
    wire values, a timestamp-millis as an int, a date as a day number, a decimal as its
    unscaled two's-complement bytes, without building a datetime or Decimal per value (which
    costs about as much as the rest of the decoding). The bytes written are the same."""
    if isinstance(schema, dict):
        return {k: strip_logical(v) for k, v in schema.items() if k != "logicalType"}
    if isinstance(schema, list):
        return [strip_logical(item) for item in schema]
    return schema


class WireFormatError(ValueError):
    """Bytes that are not a Confluent-framed Avro record."""


class UnknownSchemaError(LookupError):
    """A schema id that the registry does not know."""


class RegistryUnavailable(RuntimeError):
    """The registry could not be asked for a writer schema: retry, the message is not bad."""


ENVELOPE_FIELDS = ["op", "before", "after", "source", "ts_ms", "event_id"]
SOURCE_FIELDS = ["opd", "system", "database", "table", "position", "tx_id", "ts_ms", "snapshot"]


def _long(n: int) -> bytes:
    """Avro's zig-zag varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _string(text: str) -> bytes:
    data = text.encode()
    return _long(len(data)) + data


class EnvelopeWriter:
    """Writes the shared envelope (schemas/envelope.avsc) around a row that fastavro writes.

    Every event passes here, and fastavro spends about as long on the envelope's fixed
    fields as on the row: picking each union branch by validation, converting per field.
    This writes them directly, with the source's constant part (OPD, system, database, table)
    encoded once. Only for a schema laid out exactly as the envelope, with int timestamps;
    anything else goes to fastavro whole. A test holds the bytes equal to fastavro's for
    every entity."""

    def __init__(self, parsed: dict[str, Any]) -> None:
        fields = {f["name"]: f["type"] for f in parsed["fields"]}
        self.ops = {symbol: _long(i) for i, symbol in enumerate(fields["op"]["symbols"])}
        [row] = [branch for branch in fields["before"] if isinstance(branch, dict)]
        self.row = fastavro.parse_schema(row)
        self._constant: dict[tuple[str, str, str, str], bytes] = {}

    @staticmethod
    def fits(parsed: Any) -> bool:
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            return False
        fields = parsed["fields"]
        if [f["name"] for f in fields] != ENVELOPE_FIELDS:
            return False
        types = {f["name"]: f["type"] for f in fields}
        source = types["source"]
        return (
            isinstance(types["op"], dict)
            and types["op"].get("type") == "enum"
            and isinstance(types["before"], list)
            and types["before"][0] == "null"
            and any(isinstance(b, dict) and b.get("type") == "record" for b in types["before"])
            and isinstance(types["after"], list)
            and types["after"][0] == "null"
            and isinstance(source, dict)
            and [f["name"] for f in source["fields"]] == SOURCE_FIELDS
            and [f["type"] for f in source["fields"]][:6]
            == ["string", "string", "string", "string", "string", ["null", "string"]]
            and source["fields"][7]["type"] == "boolean"
            and types["event_id"] == "string"
        )

    def write(self, out: io.BytesIO, event: dict[str, Any]) -> bool:
        """Writes event; False (nothing written) when it holds what only fastavro handles."""
        source = event["source"]
        if type(source["ts_ms"]) is not int or type(event["ts_ms"]) is not int:
            return False
        out.write(self.ops[event["op"]])
        for row in (event["before"], event["after"]):
            if row is None:
                out.write(b"\x00")
            else:
                out.write(b"\x02")
                fastavro.schemaless_writer(out, self.row, row)
        key = (source["opd"], source["system"], source["database"], source["table"])
        constant = self._constant.get(key)
        if constant is None:
            constant = self._constant[key] = b"".join(_string(part) for part in key)
        tx_id = source["tx_id"]
        out.write(constant)
        out.write(_string(source["position"]))
        out.write(b"\x00" if tx_id is None else b"\x02" + _string(tx_id))
        out.write(_long(source["ts_ms"]))
        out.write(b"\x01" if source["snapshot"] else b"\x00")
        out.write(_long(event["ts_ms"]))
        out.write(_string(event["event_id"]))
        return True


@dataclass(frozen=True)
class Encoder:
    """Writes records of one subject's registered schema."""

    subject: str
    schema_id: int
    parsed: Any

    def __post_init__(self) -> None:
        envelope = EnvelopeWriter(self.parsed) if EnvelopeWriter.fits(self.parsed) else None
        object.__setattr__(self, "_envelope", envelope)

    def encode(self, record: dict[str, Any]) -> bytes:
        out = io.BytesIO()
        out.write(HEADER.pack(MAGIC, self.schema_id))
        envelope: EnvelopeWriter | None = self._envelope  # type: ignore[attr-defined]
        if envelope is None or not envelope.write(out, record):
            fastavro.schemaless_writer(out, self.parsed, record)
        return out.getvalue()


def split_frame(data: bytes | None) -> tuple[int, memoryview]:
    """Returns (schema id, Avro body), or raises WireFormatError saying what is wrong."""
    if data is None:
        raise WireFormatError("value is null (a tombstone), not an Avro record")
    if len(data) < HEADER.size:
        raise WireFormatError(f"{len(data)} bytes is shorter than the 5-byte wire-format header")
    magic, schema_id = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise WireFormatError(
            f"first byte is {magic & 0xFF:#04x}, not the wire format's magic 0x00"
        )
    return schema_id, memoryview(data)[HEADER.size :]


class AvroSerde:
    """Encoders per subject and a decoder with a schema-id cache, over one registry client."""

    def __init__(
        self,
        registry: SchemaRegistryClient,
        prepare: Callable[[dict[str, Any]], dict[str, Any]] = lambda schema: schema,
    ) -> None:
        """prepare rewrites each schema before it is parsed, for decoding and encoding alike
        (strip_logical: the sink and the processors work on wire values)."""
        self.registry = registry
        self.prepare = prepare
        self._writers: dict[int, Any] = {}

    def encoder(self, subject: str, schema: dict[str, Any], register: bool = False) -> Encoder:
        """An encoder for schema under subject: registered if asked, else looked up (it must
        already be registered, as `opdbus schemas register` does before producers start)."""
        candidate = Schema(json.dumps(schema), "AVRO")
        if register:
            schema_id = self.registry.register_schema(subject, candidate)
        else:
            schema_id = self.registry.lookup_schema(subject, candidate).schema_id
        parsed = fastavro.parse_schema(self.prepare(schema))
        self._writers.setdefault(schema_id, parsed)
        return Encoder(subject, schema_id, parsed)

    def writer_schema(self, schema_id: int) -> Any:
        parsed = self._writers.get(schema_id)
        if parsed is None:
            try:
                registered = self.registry.get_schema(schema_id)
            except SchemaRegistryError as exc:
                if exc.http_status_code == 404:
                    raise UnknownSchemaError(
                        f"schema id {schema_id} is not in the registry"
                    ) from exc
                raise RegistryUnavailable(f"registry: {exc}") from exc
            except Exception as exc:  # connection refused, timeout: not the message's fault
                raise RegistryUnavailable(f"registry unreachable: {exc}") from exc
            parsed = fastavro.parse_schema(self.prepare(json.loads(registered.schema_str)))
            self._writers[schema_id] = parsed
        return parsed

    def decode(self, data: bytes | None, reader: Any = None) -> dict[str, Any]:
        """Decode one framed record; with a parsed reader schema, resolve into it."""
        schema_id, body = split_frame(data)
        writer = self.writer_schema(schema_id)
        try:
            return fastavro.schemaless_reader(io.BytesIO(body), writer, reader)
        except (EOFError, StopIteration, ValueError, IndexError) as exc:
            raise WireFormatError(f"Avro body does not match schema id {schema_id}: {exc}") from exc
