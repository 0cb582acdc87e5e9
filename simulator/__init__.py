"""Simulated OPD systems: the databases, files and HTTP clients that stand in for the real ones."""
