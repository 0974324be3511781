"""PostgreSQL pool and transactions (asyncpg)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg
import orjson

from services.runtime.config import ServiceSettings

Connection = asyncpg.Connection
Pool = asyncpg.Pool


def _encode_json(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # e.g. an integer beyond 64 bits in an LMS's raw payload; json takes it
        return json.dumps(value)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects; the server keeps its binary form. Written with orjson
    # (a credential is a few kilobytes written on every issue); read with json, which keeps
    # integers beyond 64 bits exact where orjson would turn them into floats.
    await conn.set_type_codec("jsonb", encoder=_encode_json, decoder=json.loads, schema="pg_catalog")


async def create_pool(settings: ServiceSettings) -> asyncpg.Pool:
    """A pool whose connections see the service's own schema first (`search_path`)."""
    pool = await asyncpg.create_pool(
        dsn=settings.database_url.get_secret_value(),
        min_size=settings.db_pool_min_size,
        max_size=settings.db_pool_max_size,
        init=_init_connection,
        server_settings={
            "search_path": settings.database_schema,
            "application_name": f"credstream-{settings.service_name}",
        },
    )
    assert pool is not None
    return pool


@asynccontextmanager
async def transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """One connection in one READ COMMITTED transaction: committed on exit, rolled back on error.

    Handlers own the transaction; repositories only take the connection, so a state change and
    its outbox row always commit together.
    """
    async with acquire(pool) as conn, conn.transaction():
        yield conn


@asynccontextmanager
async def acquire(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection (a proxy with the Connection interface), returned on exit."""
    async with pool.acquire() as proxy:
        yield cast(asyncpg.Connection, proxy)
