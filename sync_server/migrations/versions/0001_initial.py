"""Initial schema: organisations, users, invitations, devices, refresh tokens, records, versions, key grants.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

Hand-written for SQLite and PostgreSQL. Constraint names follow ``tables.NAMING_CONVENTION``; the
table ``user`` is quoted by SQLAlchemy on PostgreSQL, where it is a reserved word.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id(name: str, *, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(name, sa.String(36), nullable=nullable)


def _ms(name: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "organisation",
        _id("id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("key_version", sa.Integer(), nullable=False),
        _ms("created_at_ms"),
        sa.PrimaryKeyConstraint("id", name="pk_organisation"),
        sa.UniqueConstraint("name", name="uq_organisation_name"),
    )
    op.create_table(
        "user",
        _id("id"),
        _id("org_id"),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("display_name", sa.String(80), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("kdf", sa.Text(), nullable=False),
        sa.Column("auth_key_hash", sa.String(64), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("wrapped_private_key", sa.Text(), nullable=False),
        _ms("created_at_ms"),
        sa.PrimaryKeyConstraint("id", name="pk_user"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_user_org_id_organisation"),
        sa.UniqueConstraint("email", name="uq_user_email"),
    )
    op.create_index("ix_user_org_id", "user", ["org_id"])
    op.create_table(
        "invitation",
        _id("id"),
        sa.Column("code_hash", sa.String(64), nullable=False),
        _id("org_id"),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        _id("created_by", nullable=True),
        _ms("created_at_ms"),
        _ms("expires_at_ms"),
        _ms("used_at_ms", nullable=True),
        _id("used_by", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invitation"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_invitation_org_id_organisation"),
        sa.ForeignKeyConstraint(["created_by"], ["user.id"], name="fk_invitation_created_by_user"),
        sa.ForeignKeyConstraint(["used_by"], ["user.id"], name="fk_invitation_used_by_user"),
        sa.UniqueConstraint("code_hash", name="uq_invitation_code_hash"),
    )
    op.create_index("ix_invitation_org_id", "invitation", ["org_id"])
    op.create_table(
        "device",
        _id("id"),
        _id("user_id"),
        _id("org_id"),
        sa.Column("name", sa.String(80), nullable=False),
        _ms("created_at_ms"),
        _ms("last_seen_at_ms"),
        _ms("revoked_at_ms", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_device"),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"], name="fk_device_user_id_user"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_device_org_id_organisation"),
    )
    op.create_index("ix_device_user_id", "device", ["user_id"])
    op.create_index("ix_device_org_id", "device", ["org_id"])
    op.create_table(
        "refresh_token",
        _id("id"),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _id("device_id"),
        _id("family_id"),
        _ms("issued_at_ms"),
        _ms("expires_at_ms"),
        _ms("used_at_ms", nullable=True),
        _ms("revoked_at_ms", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_refresh_token"),
        sa.ForeignKeyConstraint(["device_id"], ["device.id"], name="fk_refresh_token_device_id_device"),
        sa.UniqueConstraint("token_hash", name="uq_refresh_token_token_hash"),
    )
    op.create_index("ix_refresh_token_device_id", "refresh_token", ["device_id"])
    op.create_index("ix_refresh_token_family_id", "refresh_token", ["family_id"])
    op.create_table(
        "record",
        _id("record_id"),
        _id("org_id"),
        _id("case_id", nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        _id("created_by_user_id"),
        sa.PrimaryKeyConstraint("record_id", name="pk_record"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_record_org_id_organisation"),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["user.id"], name="fk_record_created_by_user_id_user"),
    )
    op.create_index("ix_record_org_id", "record", ["org_id"])
    op.create_table(
        "version",
        _id("change_id"),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _id("org_id"),
        _id("record_id"),
        _id("case_id", nullable=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("field", sa.String(40), nullable=False),
        sa.Column("tier", sa.String(8), nullable=False),
        sa.Column("key_id", sa.String(120), nullable=False),
        sa.Column("hlc", sa.String(100), nullable=False),
        sa.Column("base_hlc", sa.String(100), nullable=True),
        _id("author_user_id"),
        _id("author_device_id"),
        sa.Column("nonce", sa.Text(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("tag", sa.String(32), nullable=False),
        _id("amends", nullable=True),
        sa.Column("settles", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        _ms("received_at_ms"),
        sa.PrimaryKeyConstraint("change_id", name="pk_version"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_version_org_id_organisation"),
        sa.ForeignKeyConstraint(["record_id"], ["record.record_id"], name="fk_version_record_id_record"),
        sa.ForeignKeyConstraint(["author_user_id"], ["user.id"], name="fk_version_author_user_id_user"),
        sa.ForeignKeyConstraint(["author_device_id"], ["device.id"], name="fk_version_author_device_id_device"),
    )
    op.create_index("ix_version_org_id_seq", "version", ["org_id", "seq"], unique=True)
    op.create_index("ix_version_record_id_field", "version", ["record_id", "field"])
    op.create_table(
        "key_grant",
        _id("grant_id"),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        _id("org_id"),
        sa.Column("key_id", sa.String(120), nullable=False),
        _id("case_id", nullable=True),
        sa.Column("recipient_kind", sa.String(20), nullable=False),
        _id("recipient_id"),
        sa.Column("wrapped_with", sa.String(120), nullable=False),
        sa.Column("wrapped", sa.Text(), nullable=False),
        _id("created_by_user_id"),
        sa.Column("content_hash", sa.String(64), nullable=False),
        _ms("created_at_ms"),
        sa.PrimaryKeyConstraint("grant_id", name="pk_key_grant"),
        sa.ForeignKeyConstraint(["org_id"], ["organisation.id"], name="fk_key_grant_org_id_organisation"),
        sa.ForeignKeyConstraint(["created_by_user_id"], ["user.id"], name="fk_key_grant_created_by_user_id_user"),
    )
    op.create_index("ix_key_grant_org_id_seq", "key_grant", ["org_id", "seq"], unique=True)
    op.create_index("ix_key_grant_recipient", "key_grant", ["recipient_kind", "recipient_id", "org_id", "seq"])


def downgrade() -> None:
    op.drop_table("key_grant")
    op.drop_table("version")
    op.drop_table("record")
    op.drop_table("refresh_token")
    op.drop_table("device")
    op.drop_table("invitation")
    op.drop_table("user")
    op.drop_table("organisation")
