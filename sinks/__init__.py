"""Sinks: integrated topics into the unified PostgreSQL view, exactly once."""
