"""policy stamps (every gate and decision records the policy, content digest and label, it was
made under), evidence-bound decisions (the verdict digest an approver was shown; one live
request per person, role and round, so a request can be asked again) and criterion
confirmations (readiness criteria confirmed by a named person)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 17:00:00.000000
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import store.models

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _requests_without_unique() -> sa.Table:
    return sa.Table(
        'signoff_requests',
        sa.MetaData(),
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('gate_id', sa.Integer(), nullable=False),
        sa.Column('approver', sa.String(length=32), nullable=False),
        sa.Column('role', sa.String(length=64), nullable=False),
        sa.Column('round', sa.Integer(), nullable=False),
        sa.Column('asked_at', store.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('channel', sa.String(length=32), nullable=True),
        sa.Column('message_ts', sa.String(length=32), nullable=True),
        sa.Column('on_behalf_of', sa.String(length=32), nullable=True),
        sa.Column('superseded_at', store.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['gate_id'], ['gates.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.Index('ix_signoff_requests_approver', 'approver'),
        sa.Index('ix_signoff_requests_gate_id', 'gate_id'),
    )


def upgrade() -> None:
    with op.batch_alter_table('gates', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('policy_version', sa.String(length=64), nullable=True))
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('policy_digest', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('evidence_digest', sa.String(length=64), nullable=True))
    # One *live* request per person, role and round: the unnamed unique constraint of 0001
    # becomes a partial unique index, so a request asked again supersedes the one before it.
    if op.get_bind().dialect.name == 'postgresql':
        op.drop_constraint(
            'signoff_requests_gate_id_approver_role_round_key', 'signoff_requests', type_='unique'
        )
    else:
        # SQLite cannot drop a constraint: batch mode rebuilds the table from this definition
        # (0003's, without the constraint), keeping every row.
        with op.batch_alter_table(
            'signoff_requests', copy_from=_requests_without_unique(), recreate='always'
        ):
            pass
    op.create_index(
        'uq_signoff_request_live',
        'signoff_requests',
        ['gate_id', 'approver', 'role', 'round'],
        unique=True,
        sqlite_where=sa.text('superseded_at IS NULL'),
        postgresql_where=sa.text('superseded_at IS NULL'),
    )
    op.create_table('criterion_confirmations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('pilot_id', sa.String(length=32), nullable=False),
    sa.Column('criterion', sa.String(length=64), nullable=False),
    sa.Column('confirmed_by', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('link', sa.Text(), nullable=True),
    sa.Column('confirmed_at', store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['pilot_id'], ['pilots.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('criterion_confirmations', schema=None) as batch_op:
        batch_op.create_index('ix_criterion_confirmations_pilot', ['pilot_id', 'criterion'],
                              unique=False)


def downgrade() -> None:
    op.drop_index('uq_signoff_request_live', table_name='signoff_requests')
    with op.batch_alter_table('signoff_requests', schema=None) as batch_op:
        batch_op.create_unique_constraint(
            'signoff_requests_gate_id_approver_role_round_key',
            ['gate_id', 'approver', 'role', 'round'],
        )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_column('evidence_digest')
    with op.batch_alter_table('criterion_confirmations', schema=None) as batch_op:
        batch_op.drop_index('ix_criterion_confirmations_pilot')
    op.drop_table('criterion_confirmations')
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_column('policy_digest')
    with op.batch_alter_table('gates', schema=None) as batch_op:
        batch_op.drop_column('policy_version')
        batch_op.drop_column('policy_digest')
