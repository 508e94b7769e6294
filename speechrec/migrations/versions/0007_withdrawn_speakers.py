"""Withdrawn speakers: a table of the ids of speakers who withdrew, and when.

Issue 12. A withdrawal deletes every row and file of the speaker; this list is what remains (a
random 8-hex-digit id, never a name or a code) so that a take still on its way, a re-import of
an old folder or an export built meanwhile can tell that the speaker is gone. Existing stores
start with an empty list: earlier withdrawals left no trace to list.
"""

import sqlalchemy as sa
from alembic import op

from speechrec.migrations import set_schema_version

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "withdrawn_speakers",
        sa.Column("speaker_id", sa.String(8), primary_key=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=False),
    )
    set_schema_version(7)


def downgrade() -> None:
    raise NotImplementedError("speechrec never downgrades a schema; restore a backup instead")
