"""The caller's role as a column of the audit log, written with each row.

Until now the role was looked up at read time from the token (``api_tokens.role``), so a row of a
since-deleted token had none and the anonymous caller of a server without auth was told apart by
name. Existing rows are backfilled the way that read derived it: the token's role, ``admin`` for
the anonymous caller, otherwise empty.

Revision ID: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ANONYMOUS = "anonymous (auth off)"  # registry.auth.ANONYMOUS.name when this revision was written


def upgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default=""))
    audit = sa.table(
        "audit_log",
        sa.column("token_id", sa.Integer),
        sa.column("token_name", sa.String),
        sa.column("role", sa.String),
    )
    tokens = sa.table("api_tokens", sa.column("id", sa.Integer), sa.column("role", sa.String))
    token_role = sa.select(tokens.c.role).where(tokens.c.id == audit.c.token_id).scalar_subquery()
    connection = op.get_bind()
    connection.execute(
        audit.update().where(audit.c.token_id.is_not(None)).values(role=sa.func.coalesce(token_role, ""))
    )
    connection.execute(
        audit.update().where(audit.c.token_id.is_(None), audit.c.token_name == ANONYMOUS).values(role="admin")
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch:
        batch.drop_column("role")
