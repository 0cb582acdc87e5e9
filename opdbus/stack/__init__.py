"""Local stack manager: Kafka, Apicurio Registry, PostgreSQL and Prometheus without Docker."""
