"""Bronze gate and lakehouse glue: decode, validate, append to Iceberg."""
