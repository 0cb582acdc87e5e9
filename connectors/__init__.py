"""Connectors: one per kind of OPD source system, each publishing the shared envelope."""
