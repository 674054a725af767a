-- Run once by the postgres image when its volume is first initialised (docker-entrypoint-initdb.d).
-- Dagster's storage gets a database of its own: Dagster and the registry both keep an Alembic
-- `alembic_version` table, and in one database the second of them to migrate fails.
CREATE DATABASE dagster;
