"""Avro in Confluent's wire format: magic byte 0, 4-byte big-endian schema id, Avro body.

Every Kafka tool an analyst knows reads this format. Records are encoded and decoded by code
compiled per schema (opdbus.codec), or by fastavro for a schema that code does not cover;
schemas are fetched from the registry once per id and cached, never per message.
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

from opdbus import codec

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


@dataclass(frozen=True)
class Encoder:
    """Writes records of one subject's registered schema."""

    subject: str
    schema_id: int
    parsed: Any

    def __post_init__(self) -> None:
        try:
            write: codec.Writer | None = codec.writer(self.parsed)
        except codec.Unsupported:
            write = None
        object.__setattr__(self, "_write", write)
        object.__setattr__(self, "_header", HEADER.pack(MAGIC, self.schema_id))

    def encode(self, record: dict[str, Any]) -> bytes:
        header: bytes = self._header  # type: ignore[attr-defined]
        write: codec.Writer | None = self._write  # type: ignore[attr-defined]
        if write is not None:
            try:
                return write(record, header)
            except Exception:  # fastavro writes it, or says what is wrong with it
                pass
        out = io.BytesIO()
        out.write(header)
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
        self._writers: dict[int, Any] = {}  # parsed schemas this process registered or looked up
        self._readers: dict[int, tuple[Any, codec.Reader | None]] = {}

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
        return self._decoder(schema_id)[0]

    def _decoder(self, schema_id: int) -> tuple[Any, codec.Reader | None]:
        """The writer schema of schema_id (parsed) and its compiled reader, if it has one."""
        found = self._readers.get(schema_id)
        if found is None:
            parsed = self._writers.get(schema_id)
            if parsed is None:
                parsed = self._fetch(schema_id)
            try:
                read: codec.Reader | None = codec.reader(parsed)
            except codec.Unsupported:
                read = None
            found = self._readers[schema_id] = (parsed, read)
        return found

    def _fetch(self, schema_id: int) -> Any:
        try:
            registered = self.registry.get_schema(schema_id)
        except SchemaRegistryError as exc:
            if exc.http_status_code == 404:
                raise UnknownSchemaError(f"schema id {schema_id} is not in the registry") from exc
            raise RegistryUnavailable(f"registry: {exc}") from exc
        except Exception as exc:  # connection refused, timeout: not the message's fault
            raise RegistryUnavailable(f"registry unreachable: {exc}") from exc
        return fastavro.parse_schema(self.prepare(json.loads(registered.schema_str)))

    def decode(self, data: bytes | None) -> dict[str, Any]:
        """Decode one framed record with the schema it was written with."""
        schema_id, body = split_frame(data)
        parsed, read = self._decoder(schema_id)
        try:
            if read is not None and type(data) is bytes:
                return read(data, HEADER.size)
            return fastavro.schemaless_reader(io.BytesIO(body), parsed, None)
        except (EOFError, StopIteration, ValueError, IndexError, struct.error) as exc:
            raise WireFormatError(f"Avro body does not match schema id {schema_id}: {exc}") from exc
