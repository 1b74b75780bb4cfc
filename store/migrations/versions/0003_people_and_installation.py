"""people (a cache of Slack's users.info and DM channels) and installation_state (the relay's
installation-wide pauses, e.g. a revoked token)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 16:30:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('people',
    sa.Column('user_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('real_name', sa.String(length=200), nullable=True),
    sa.Column('dm_channel', sa.String(length=32), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('fetched_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('user_id')
    )
    op.create_table('installation_state',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('error', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('since', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_checked_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('cleared_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('installation_state', schema=None) as batch_op:
        batch_op.create_index('ix_installation_state_open', ['kind', 'cleared_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('installation_state', schema=None) as batch_op:
        batch_op.drop_index('ix_installation_state_open')
    op.drop_table('installation_state')
    op.drop_table('people')
