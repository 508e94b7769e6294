"""Variations, near misses and consent languages: clips.variation, clips.near_miss_of, speakers.consent_language.

Issue 14. Three nullable columns; existing rows get NULL, which means what it meant before: a take
asked for in no particular variation, a word that is no near miss, a consent read in the
campaign's own language (the only one there was).
"""

import sqlalchemy as sa
from alembic import op

from speechrec.migrations import set_schema_version

revision = "0006"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: on SQLite Alembic adds the columns in place (ALTER TABLE ADD COLUMN needs no copy).
    with op.batch_alter_table("clips") as batch:
        batch.add_column(sa.Column("variation", sa.String(32), nullable=True))
        batch.add_column(sa.Column("near_miss_of", sa.Text, nullable=True))
    with op.batch_alter_table("speakers") as batch:
        batch.add_column(sa.Column("consent_language", sa.String(35), nullable=True))
    # The Stats page's counts per keyword, variation and status, read from this index alone.
    op.create_index("ix_clips_variation_counts", "clips", ["keyword", "variation", "status", "flags"])
    set_schema_version(6)


def downgrade() -> None:
    raise NotImplementedError("speechrec never downgrades a schema; restore a backup instead")
