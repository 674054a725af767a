"""Confluent data contracts: schema GUIDs, a version's metadata and rule set, a config's
compatibility group and default / override metadata and rule sets.

Revision ID: 0004
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("schemas") as batch:
        batch.add_column(sa.Column("guid", sa.String(36), nullable=True))
    schemas = sa.table("schemas", sa.column("id", sa.Integer), sa.column("guid", sa.String))
    connection = op.get_bind()
    for (schema_id,) in connection.execute(sa.select(schemas.c.id)).all():
        connection.execute(schemas.update().where(schemas.c.id == schema_id).values(guid=str(uuid.uuid4())))
    op.create_index("ix_schemas_guid", "schemas", ["guid"], unique=True)
    with op.batch_alter_table("subject_versions") as batch:
        batch.add_column(sa.Column("data_metadata", sa.JSON, nullable=True))
        batch.add_column(sa.Column("rule_set", sa.JSON, nullable=True))
    with op.batch_alter_table("configs") as batch:
        batch.add_column(sa.Column("compatibility_group", sa.String(255), nullable=True))
        for name in ("default_metadata", "override_metadata", "default_rule_set", "override_rule_set"):
            batch.add_column(sa.Column(name, sa.JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("configs") as batch:
        for name in ("override_rule_set", "default_rule_set", "override_metadata", "default_metadata"):
            batch.drop_column(name)
        batch.drop_column("compatibility_group")
    with op.batch_alter_table("subject_versions") as batch:
        batch.drop_column("rule_set")
        batch.drop_column("data_metadata")
    op.drop_index("ix_schemas_guid", table_name="schemas")
    with op.batch_alter_table("schemas") as batch:
        batch.drop_column("guid")
