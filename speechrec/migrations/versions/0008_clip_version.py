"""Clip version: clips.version, bumped by every review write, for compare-and-set decisions.

Issue 12. Two organizers deciding on the same clip: a decision or an undo made on a version that
is no longer the clip's is refused instead of silently replacing the other's. Existing rows start
at version 0, which every page that showed them read as 0 too.
"""

import sqlalchemy as sa
from alembic import op

from speechrec.migrations import set_schema_version

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("clips") as batch:
        batch.add_column(sa.Column("version", sa.Integer, nullable=False, server_default="0"))
    set_schema_version(8)


def downgrade() -> None:
    raise NotImplementedError("speechrec never downgrades a schema; restore a backup instead")
