"""Sign-in failures: wrong organizer passwords per throttle bucket, kept for every replica.

Issue 12. The delay after a wrong password was counted in the browser session, so a new session
per guess checked passwords at full speed (143 a minute). The counts now live in the store, one
row per bucket (everyone; a client network as a keyed digest). Existing stores start with no
failures counted.
"""

import sqlalchemy as sa
from alembic import op

from speechrec.migrations import set_schema_version

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_in_failures",
        sa.Column("bucket", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retry_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_sign_in_failures_last", "sign_in_failures", ["last_failure_at"])
    set_schema_version(9)


def downgrade() -> None:
    raise NotImplementedError("speechrec never downgrades a schema; restore a backup instead")
