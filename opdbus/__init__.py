"""opdbus core: what every stage shares.

Config, envelope, serde, Kafka clients, metrics, the CLI and the local stack.
"""
