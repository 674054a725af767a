"""The first registry schema: schemas, subjects, subject versions, references, configs, modes, consumers.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schemas",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("references", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("format", "fingerprint", name="uq_schemas_format_fingerprint"),
    )
    op.create_table(
        "subjects",
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("seq", sa.Integer, nullable=False),
    )
    op.create_table(
        "subject_versions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(255), sa.ForeignKey("subjects.name"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("schema_id", sa.Integer, sa.ForeignKey("schemas.id"), nullable=False, index=True),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("subject", "version", name="uq_subject_versions_subject_version"),
    )
    op.create_table(
        "schema_references",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("schema_id", sa.Integer, sa.ForeignKey("schemas.id"), nullable=False, index=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_index("ix_schema_references_target", "schema_references", ["subject", "version"])
    op.create_table(
        "configs",
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("ruleset", sa.String(32), nullable=True),
    )
    op.create_table(
        "modes",
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("mode", sa.String(16), nullable=False),
    )
    op.create_table(
        "consumers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False, index=True),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=True),
        sa.Column("reader_schema", sa.Text, nullable=True),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "subject", name="uq_consumers_name_subject"),
    )


def downgrade() -> None:
    for table in (
        "consumers",
        "modes",
        "configs",
        "schema_references",
        "subject_versions",
        "subjects",
        "schemas",
    ):
        op.drop_table(table)
