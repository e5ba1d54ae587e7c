"""Bronze: Kafka topics into append-only Delta tables, exactly once per offset."""
