"""Each workspace's own settings (one row a workspace and key): the vocabulary it is read
with (`lexicon`) first, so a finance workspace and one of other documents can share a process.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'workspace_settings',
        sa.Column('workspace', sa.String(200), primary_key=True),
        sa.Column('key', sa.String(64), primary_key=True),
        sa.Column('value', sa.Text, nullable=False),
        sa.Column('updated_at', sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table('workspace_settings')
