"""Each workspace's side state on the port: the question log (questions, their vectors, ingest
failures, the topics cache), evaluation runs, stored briefs, feedback analyses, figure cells, and
the record of per-workspace files already imported from an older data directory.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'questions',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('workspace', sa.String(200), nullable=False),
        sa.Column('asked_at', sa.Float, nullable=False),
        sa.Column('question', sa.Text, nullable=False),
        sa.Column('rewritten', sa.Text, nullable=False, server_default=''),
        sa.Column('model', sa.String(300), nullable=False, server_default=''),
        sa.Column('seconds', sa.Float, nullable=True),
        sa.Column('first_token_s', sa.Float, nullable=True),
        sa.Column('abstained', sa.Integer, nullable=False),
        sa.Column('citation_check', sa.String(32), nullable=False),
        sa.Column('citations', sa.Integer, nullable=False, server_default='0'),
        sa.Column('flags', sa.Text, nullable=False, server_default='[]'),
        sa.Column('passages', sa.Text, nullable=False, server_default='[]'),
        sa.Column('answer', sa.Text, nullable=False, server_default=''),
        sa.Column('source', sa.String(32), nullable=False, server_default='app'),
        sa.Column('reask_of', sa.Integer, nullable=True),
        sa.Column('resolved_at', sa.Float, nullable=True),
        sa.Column('resolved_by', sa.Integer, nullable=True),
        sa.Column('resolution', sa.Text, nullable=False, server_default=''),
    )
    op.create_index('ix_questions_workspace_asked', 'questions', ['workspace', 'asked_at'])
    op.create_table(
        'question_vectors',
        sa.Column('workspace', sa.String(200), primary_key=True),
        sa.Column('key', sa.String(64), primary_key=True),
        sa.Column('model', sa.String(300), primary_key=True),
        sa.Column('vec', sa.LargeBinary, nullable=False),
    )
    op.create_table(
        'ingest_failures',
        sa.Column('workspace', sa.String(200), primary_key=True),
        sa.Column('filename', sa.String(1000), primary_key=True),
        sa.Column('message', sa.Text, nullable=False),
        sa.Column('failed_at', sa.Float, nullable=False),
        sa.Column('attempts', sa.Integer, nullable=False, server_default='1'),
    )
    op.create_table(
        'question_cache',
        sa.Column('workspace', sa.String(200), primary_key=True),
        sa.Column('name', sa.String(200), primary_key=True),
        sa.Column('payload', sa.Text, nullable=False),
        sa.Column('updated_at', sa.Float, nullable=False),
    )
    op.create_table(
        'eval_runs',
        sa.Column('id', sa.Integer, primary_key=True, autoincrement=True),
        sa.Column('workspace', sa.String(200), nullable=False),
        sa.Column('created_at', sa.Float, nullable=False),
        sa.Column('set_name', sa.String(500), nullable=False, server_default=''),
        sa.Column('k', sa.Integer, nullable=False),
        sa.Column('questions', sa.Integer, nullable=False),
        sa.Column('recall', sa.Float, nullable=False),
        sa.Column('mrr', sa.Float, nullable=False),
        sa.Column('embed_model', sa.String(300), nullable=False, server_default=''),
        sa.Column('settings', sa.Text, nullable=False, server_default='{}'),
        sa.Column('seconds', sa.Float, nullable=False, server_default='0'),
        sa.Column('result', sa.Text, nullable=False, server_default='{}'),
    )
    op.create_index('ix_eval_runs_workspace_created', 'eval_runs', ['workspace', 'created_at'])
    op.create_table(
        'briefs',
        sa.Column('workspace', sa.String(200), primary_key=True),
        sa.Column('doc_key', sa.String(420), primary_key=True),
        sa.Column('kind', sa.String(32), primary_key=True),
        sa.Column('model_slug', sa.String(16), primary_key=True),
        sa.Column('doc_a', sa.String(200), nullable=False),
        sa.Column('doc_b', sa.String(200), nullable=True),
        sa.Column('fingerprint', sa.Text, nullable=False),
        sa.Column('created_at', sa.Float, nullable=False),
        sa.Column('payload', sa.Text, nullable=False),
    )
    op.create_table(
        'analyses',
        sa.Column('workspace', sa.String(200), primary_key=True),
        sa.Column('doc_id', sa.String(200), primary_key=True),
        sa.Column('fingerprint', sa.Text, nullable=False),
        sa.Column('saved_at', sa.Float, nullable=False),
        sa.Column('payload', sa.Text, nullable=False),
    )
    op.create_table(
        'cells',
        sa.Column('workspace', sa.String(200), nullable=False),
        sa.Column('doc_id', sa.String(200), nullable=False),
        sa.Column('doc_name', sa.Text, nullable=False),
        sa.Column('row_label', sa.Text, nullable=False),
        sa.Column('period', sa.String(64), nullable=False),
        sa.Column('value', sa.Text, nullable=False),
        sa.Column('text', sa.Text, nullable=False),
        sa.Column('span', sa.Text, nullable=False),
        sa.Column('unit', sa.String(100), nullable=False, server_default=''),
        sa.Column('page', sa.Integer, nullable=True),
        sa.Column('row', sa.Integer, nullable=True),
        sa.Column('table', sa.Text, nullable=False, server_default=''),
        sa.Column('statement', sa.String(64), nullable=False, server_default='other'),
        sa.Column('section', sa.Text, nullable=False, server_default=''),
        sa.Column('column', sa.Text, nullable=False, server_default=''),
        sa.Column('period_kind', sa.String(32), nullable=False, server_default=''),
        sa.Column('year', sa.Integer, nullable=True),
        sa.Column('quarter', sa.Integer, nullable=True),
        sa.Column('source', sa.String(32), nullable=False, server_default='table'),
        sa.Column('ordinal', sa.Integer, nullable=False, server_default='0'),
        sa.Column('turn', sa.Integer, nullable=True),
    )
    op.create_index('ix_cells_workspace_doc', 'cells', ['workspace', 'doc_id'])
    op.create_table(
        'legacy_imports',
        sa.Column('source', sa.String(1200), primary_key=True),
        sa.Column('imported_at', sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table('legacy_imports')
    op.drop_table('cells')
    op.drop_table('analyses')
    op.drop_table('briefs')
    op.drop_table('eval_runs')
    op.drop_table('question_cache')
    op.drop_table('ingest_failures')
    op.drop_table('question_vectors')
    op.drop_table('questions')
