"""Forward-only SQL migrations per service schema.

Files are `NNNN_name.sql`, applied in order, each in its own transaction, and recorded in
`<schema>.schema_migrations` per component (`runtime` for the inbox/outbox tables every service
has, then the service's own). A session advisory lock serialises concurrent starters (several
instances of one service booting at once): the second waits, then finds nothing to do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

RUNTIME_MIGRATIONS = Path(__file__).parent / "migrations"
_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    component: str
    version: int
    name: str
    sql: str


def load(component: str, directory: Path) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = _NAME.match(path.name)
        if not match:
            raise ValueError(f"migration file name {path.name!r} is not NNNN_name.sql")
        migrations.append(Migration(component, int(match.group(1)), path.name, path.read_text()))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ValueError(f"duplicate migration versions in {directory}")
    return migrations


async def migrate(conn: asyncpg.Connection, *, schema: str, components: list[tuple[str, Path]]) -> list[str]:
    """Apply every pending migration; returns the names applied."""
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise ValueError(f"bad schema name {schema!r}")
    applied: list[str] = []
    await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"credstream.migrate.{schema}")
    try:
        # The schema normally exists (created with the service's role by the operator's
        # init.sql); creating it needs CREATE on the database, which a service role lacks.
        if not await conn.fetchval("SELECT true FROM pg_namespace WHERE nspname = $1", schema):
            await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.execute(
            f"""CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
                    component text NOT NULL,
                    version integer NOT NULL,
                    name text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (component, version))"""
        )
        for component, directory in components:
            done = {
                r["version"]
                for r in await conn.fetch(
                    f"SELECT version FROM {schema}.schema_migrations WHERE component = $1",
                    component,
                )
            }
            for migration in load(component, directory):
                if migration.version in done:
                    continue
                async with conn.transaction():
                    await conn.execute(f"SET LOCAL search_path TO {schema}")
                    await conn.execute(migration.sql)
                    await conn.execute(
                        f"INSERT INTO {schema}.schema_migrations (component, version, name) "
                        "VALUES ($1, $2, $3)",
                        component,
                        migration.version,
                        migration.name,
                    )
                applied.append(f"{component}/{migration.name}")
    finally:
        await conn.execute("SELECT pg_advisory_unlock(hashtext($1))", f"credstream.migrate.{schema}")
    return applied
