"""Audio fingerprint per clip, and the model check's doubt per clip (issue 13).

``clips.fingerprint_levels``, ``fingerprint_loudest`` and ``fingerprint_peak`` hold the fingerprint
of the decoded audio (``speechrec.fingerprint``), indexed by the loudest frame, so an import finds
the same take in another encoding among everything stored, not only among the files of one run.
Existing rows read NULL: not computed yet. They are not computed here (that needs every take's
audio, which may be in a bucket this revision cannot reach, and would keep the upgrade's lock for
minutes on a large store); the next import computes them once, in its worker processes.

``clip_doubt`` holds the newest model check's doubt about each clip it checked, so every app
replica orders and filters the Review queue by it in SQL; a clip's row goes with the clip
(ON DELETE CASCADE). Existing stores start without one: the next check fills it.
"""

import sqlalchemy as sa
from alembic import op

from speechrec.migrations import set_schema_version

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns without a default: old rows read NULL, no table copy on SQLite.
    op.add_column("clips", sa.Column("fingerprint_levels", sa.LargeBinary(), nullable=True))
    op.add_column("clips", sa.Column("fingerprint_loudest", sa.Integer(), nullable=True))
    op.add_column("clips", sa.Column("fingerprint_peak", sa.Integer(), nullable=True))
    op.create_index("ix_clips_fingerprint", "clips", ["fingerprint_peak", "fingerprint_loudest"])
    op.create_table(
        "clip_doubt",
        sa.Column(
            "clip_id", sa.String(32), sa.ForeignKey("clips.clip_id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("keyword", sa.String(64), nullable=False),
        sa.Column("doubt", sa.Float(), nullable=False),
    )
    op.create_index("ix_clip_doubt_doubt", "clip_doubt", ["doubt", "clip_id", "keyword"])
    set_schema_version(10)


def downgrade() -> None:
    raise NotImplementedError("speechrec never downgrades a schema; restore a backup instead")
