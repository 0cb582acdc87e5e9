"""Processors (faust): validate, enrich with population, protect personal data."""
