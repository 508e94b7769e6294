"""Round one: the schema of the first release (speechrec_meta, speakers, clips).

A database made by that release has these tables but no alembic_version table: this revision
then creates nothing, keeps every row, and is only recorded. The tables are written out here as
they were (frozen), never imported from speechrec.schema.
"""

import sqlalchemy as sa
from alembic import op

from speechrec.migrations import set_schema_version

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROUND_ONE_INDEXES = {
    "ix_clips_keyword": ["keyword"],
    "ix_clips_speaker_id": ["speaker_id"],
    "ix_clips_session_id": ["session_id"],
    "ix_clips_created_at": ["created_at"],
    "ix_clips_status": ["status"],
}


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "speechrec_meta" not in existing:
        op.create_table(
            "speechrec_meta",
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("value", sa.Text, nullable=False),
        )
    if "speakers" not in existing:
        op.create_table(
            "speakers",
            sa.Column("speaker_id", sa.String(8), primary_key=True),
            sa.Column("code_sha256", sa.String(64), unique=True, nullable=True),
            sa.Column("origin", sa.String(16), nullable=False),
            sa.Column("consent_version", sa.Integer, nullable=True),
            sa.Column("consented_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "clips" not in existing:
        op.create_table(
            "clips",
            sa.Column("clip_id", sa.String(32), primary_key=True),
            sa.Column("keyword", sa.String(64), nullable=False),
            sa.Column("speaker_id", sa.String(8), sa.ForeignKey("speakers.speaker_id"), nullable=False),
            sa.Column("session_id", sa.String(64), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("source", sa.String(16), nullable=False),
            sa.Column("source_path", sa.Text, nullable=True),
            sa.Column("source_sha1", sa.String(40), nullable=True, unique=True),
            sa.Column("sample_rate", sa.Integer, nullable=False),
            sa.Column("duration_s", sa.Float, nullable=False),
            sa.Column("audio_key", sa.Text, nullable=False),
            sa.Column("peak_dbfs", sa.Float, nullable=False),
            sa.Column("clipped_fraction", sa.Float, nullable=False),
            sa.Column("noise_floor_dbfs", sa.Float, nullable=False),
            sa.Column("speech_level_dbfs", sa.Float, nullable=True),
            sa.Column("snr_db", sa.Float, nullable=True),
            sa.Column("speech_start_s", sa.Float, nullable=True),
            sa.Column("speech_end_s", sa.Float, nullable=True),
            sa.Column("flags", sa.String(128), nullable=False),
            sa.Column("status", sa.String(10), nullable=False),
            sa.Column("reason", sa.Text, nullable=True),
            sa.Column("reviewer", sa.String(128), nullable=True),
            sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
            sa.Column("consent_version", sa.Integer, nullable=True),
        )
    indexes = {index["name"] for index in sa.inspect(op.get_bind()).get_indexes("clips")}
    for name, columns in ROUND_ONE_INDEXES.items():
        if name not in indexes:
            op.create_index(name, "clips", columns)
    set_schema_version(1)


def downgrade() -> None:
    raise NotImplementedError("speechrec never downgrades a schema; restore a backup instead")
