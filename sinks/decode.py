"""Confluent-framed Avro -> the record's wire values (see sinks/wire.py), writer schema per id.

Writer schemas come from the registry once per schema id and are kept with their logical
types stripped. A registry that cannot be reached is not the message's fault: that error is
raised as RegistryUnavailable (the batch is retried), while an id the registry does not know
or bytes that do not decode make the message a dead letter.
"""

from __future__ import annotations

import io
import json
from typing import Any

import fastavro
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from opdbus.serde import UnknownSchemaError, WireFormatError, split_frame
from opdbus.sinks.wire import strip_logical


class RegistryUnavailable(RuntimeError):
    """The registry could not be asked for a writer schema: retry, the message is not bad."""


class WireDecoder:
    def __init__(self, registry: SchemaRegistryClient) -> None:
        self.registry = registry
        self._writers: dict[int, Any] = {}

    def writer(self, schema_id: int) -> Any:
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
            except Exception as exc:  # connection refused, timeout, ...
                raise RegistryUnavailable(f"registry unreachable: {exc}") from exc
            parsed = fastavro.parse_schema(strip_logical(json.loads(registered.schema_str)))
            self._writers[schema_id] = parsed
        return parsed

    def decode(self, data: bytes | None) -> dict[str, Any]:
        schema_id, body = split_frame(data)
        writer = self.writer(schema_id)
        try:
            return fastavro.schemaless_reader(io.BytesIO(body), writer, None)
        except (EOFError, StopIteration, ValueError, IndexError) as exc:
            raise WireFormatError(f"Avro body does not match schema id {schema_id}: {exc}") from exc
