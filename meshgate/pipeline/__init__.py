"""The Dagster code location: Bronze assets fed by the gate, dbt models as assets, sensors.

``meshgate.pipeline.definitions:defs`` is what ``dagster dev -m meshgate.pipeline.definitions`` and
the Dagster webserver/daemon of the deployment load.
"""
