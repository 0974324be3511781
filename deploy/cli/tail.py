"""`credstream tail TOPIC`: pretty-print a topic's records with their CloudEvents attributes
(Kafka binary mode: `ce_*` headers, `content-type`, `traceparent`) and dead-letter headers."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from aiokafka import ConsumerRecord
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from deploy.cli.context import CliContext, state
from deploy.cli.streams import assign, consumer, resolve_topic


def record_json(record: ConsumerRecord[bytes, bytes]) -> dict[str, Any]:
    headers = {k: v.decode("utf-8", errors="replace") for k, v in record.headers}
    value = record.value or b""
    try:
        data: Any = json.loads(value)
    except ValueError:
        data = value.decode("utf-8", errors="replace")
    return {
        "topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "timestamp": record.timestamp,
        "key": record.key.decode("utf-8", errors="replace") if record.key else None,
        "headers": headers,
        "data": data,
    }


def render(console: Console, item: dict[str, Any]) -> None:
    attributes = Table(show_header=False, box=None, pad_edge=False)
    for name, value in sorted(item["headers"].items(), key=lambda kv: (not kv[0].startswith("ce_"), kv[0])):
        attributes.add_row(f"[cyan]{name}[/]", value)
    attributes.add_row("[cyan]key[/]", str(item["key"]))
    data = item["data"]
    body = json.dumps(data, indent=2) if not isinstance(data, str) else data
    title = f"{item['topic']} [{item['partition']}] @ {item['offset']}"
    console.print(Panel.fit(attributes, title=title, title_align="left"))
    console.print(body, highlight=False, markup=False, soft_wrap=True)


async def follow(
    cli: CliContext, topic: str, *, from_beginning: bool, limit: int | None, idle_s: float | None
) -> int:
    shown = 0
    async with consumer(cli.endpoints.operator_kafka()) as client:
        await assign(client, topic, from_beginning=from_beginning)
        loop = asyncio.get_running_loop()
        last = loop.time()
        while limit is None or shown < limit:
            batches = await client.getmany(timeout_ms=500, max_records=limit - shown if limit else None)
            records = sorted(
                (r for rs in batches.values() for r in rs), key=lambda r: (r.timestamp, r.partition)
            )
            for record in records:
                item = record_json(record)
                if cli.json_output:
                    typer.echo(json.dumps(item))
                else:
                    render(cli.console, item)
                shown += 1
            if records:
                last = loop.time()
            elif idle_s is not None and loop.time() - last > idle_s:
                break
    return shown


def tail(
    ctx: typer.Context,
    topic: Annotated[
        str, typer.Argument(help="Topic name, full or short (assessment.results, dlq.assessment).")
    ],
    from_beginning: Annotated[
        bool, typer.Option("--from-beginning", help="Read from the oldest record.")
    ] = False,
    max_records: Annotated[int | None, typer.Option("--max", min=1, help="Stop after N records.")] = None,
    idle: Annotated[
        float | None, typer.Option("--idle", min=0.1, help="Stop after this many seconds without a record.")
    ] = None,
) -> None:
    """Print a topic's records as they arrive (JSON lines with --json). Ctrl-C stops."""
    cli = state(ctx)
    name = cli.attempt(lambda: resolve_topic(topic))
    try:
        cli.run(follow(cli, name, from_beginning=from_beginning, limit=max_records, idle_s=idle))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
