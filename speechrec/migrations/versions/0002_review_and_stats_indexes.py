"""Indexes for the review queue and the Stats page (issue 9).

The review queue's next clip is one seek, newest first, on (status, created_at, clip_id), or on
(keyword, status, created_at, clip_id) for one keyword; its count reads one index alone. The
Stats page's per-word, per-speaker and per-day counts each read one covering index in its order
instead of the whole table. The round-one indexes on keyword, speaker_id and created_at alone are
the first columns of the new ones, so they go.
"""

import sqlalchemy as sa
from alembic import op

from speechrec.migrations import set_schema_version

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_clips_review": ["status", "created_at", "clip_id", "keyword", "flags", "source"],
    "ix_clips_keyword_review": ["keyword", "status", "created_at", "clip_id", "flags", "duration_s"],
    "ix_clips_speaker_counts": ["speaker_id", "keyword", "status", "created_at"],
    "ix_clips_created": ["created_at", "clip_id", "keyword"],
}
REPLACED = ["ix_clips_keyword", "ix_clips_speaker_id", "ix_clips_created_at"]


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "clips", columns)
    for name in REPLACED:
        op.drop_index(name, table_name="clips")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(sa.text("ANALYZE clips"))  # plan with the new indexes at once, not after autovacuum
    set_schema_version(2)


def downgrade() -> None:
    raise NotImplementedError("speechrec never downgrades a schema; restore a backup instead")
