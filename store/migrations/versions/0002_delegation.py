"""delegation: out-of-office delegations, and requests made on behalf of / handed over

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('delegations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('approver', sa.String(length=32), nullable=False),
    sa.Column('delegate', sa.String(length=32), nullable=False),
    sa.Column('starts_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('created_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_by', sa.String(length=64), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.create_index('ix_delegations_approver_period', ['approver', 'ends_at'], unique=False)

    with op.batch_alter_table('signoff_requests', schema=None) as batch_op:
        batch_op.add_column(sa.Column('on_behalf_of', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('superseded_at', store.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('signoff_requests', schema=None) as batch_op:
        batch_op.drop_column('superseded_at')
        batch_op.drop_column('on_behalf_of')

    with op.batch_alter_table('delegations', schema=None) as batch_op:
        batch_op.drop_index('ix_delegations_approver_period')

    op.drop_table('delegations')
