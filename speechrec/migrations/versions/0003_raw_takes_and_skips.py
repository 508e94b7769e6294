"""Whether a take was recorded raw, and the words a volunteer skipped (issue 10).

``clips.raw`` is true when the browser reported echo cancellation, noise suppression and auto
gain all off for the take, false when any of them stayed on, and NULL where nobody knows (imports,
and every row made before this revision). ``skips`` counts the prompts a volunteer skipped per
word, so a skipped word stays skipped after a reload; a skip is never a take. Withdrawing a
speaker deletes their skips with their clips.
"""

import sqlalchemy as sa
from alembic import op

from speechrec.migrations import set_schema_version

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column without a default: old rows read NULL (unknown), no table copy on SQLite.
    op.add_column("clips", sa.Column("raw", sa.Boolean(), nullable=True))
    op.create_table(
        "skips",
        sa.Column("speaker_id", sa.String(8), sa.ForeignKey("speakers.speaker_id"), primary_key=True),
        sa.Column("keyword", sa.String(64), primary_key=True),
        sa.Column("skipped", sa.Integer(), nullable=False),
    )
    set_schema_version(3)


def downgrade() -> None:
    raise NotImplementedError("speechrec never downgrades a schema; restore a backup instead")
