"""Observability: the lag collector (`opdbus lag`) and the one-screen health check
(`opdbus status`). Both read the broker and the CDC slots the same way (collect.py); the
collector exports what it reads to Prometheus, status prints it.
"""
