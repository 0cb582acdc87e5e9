"""Processors: validate, enrich with population, protect personal data."""
