"""The seams between meshgate and dbt (dbt-duckdb): generated sources, in-process runs, the plugin.

``sources`` writes the Bronze sources from the contracts, ``glue`` runs dbt in-process and points DuckDB
at the Bronze snapshots, ``plugin`` is the dbt-duckdb plugin the profile loads, ``cli`` the commands.
"""
