"""The Ask page's conversations on the port (one row a workspace and user), so every replica
behind one URL finds a user's chat where it was. Older per-replica files
(`analytics/<collection>/conversations/<hash>.json`) are imported when first read.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'conversations',
        sa.Column('workspace', sa.String(200), primary_key=True),
        sa.Column('user', sa.String(320), primary_key=True),
        sa.Column('turns', sa.Integer, nullable=False),
        sa.Column('updated_at', sa.Float, nullable=False),
        sa.Column('payload', sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table('conversations')
