"""`credstream dlq list` / `credstream dlq replay`: read the dead-letter topics and, after the
cause is fixed, publish the refused records again to the topic they came from (docs/operations.md).

A dead letter (services/runtime/dead_letter.py) is the original record byte for byte (key, value,
headers) plus `dlq.*` headers: reason, error, source topic/partition/offset, consumer group and
time. A replay publishes the original key, value and headers (the `dlq.*` ones removed) to the
source topic, with the same CloudEvents id, so a consumer's inbox still drops what it applied
before. Each replayed record carries `dlq.replayed_from` (`<dlq topic>:<partition>:<offset>`):
before publishing, `replay` looks for that marker on the source topic (from the time the record
was dead-lettered) and skips dead letters replayed already, unless `--force`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from rich.table import Table

from contracts.envelope import CE_ID
from contracts.topics import (
    CONSUMER_GROUPS,
    DEAD_LETTER_TOPICS,
    DLQ_CONSUMER_GROUP,
    DLQ_FAILED_AT,
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    dead_letter_topic,
)
from deploy.cli.context import CliContext, state
from deploy.cli.errors import OperationFailed, UsageError
from deploy.cli.streams import consumer, producer, resolve_topic
from services.runtime.kafka import KafkaAccess

REPLAYED_FROM = "dlq.replayed_from"
REPLAYED_AT = "dlq.replayed_at"
DLQ_HEADER_PREFIX = "dlq."

app = typer.Typer(help="Dead-lettered records: list them, replay them after a fix.", no_args_is_help=True)


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic, with its `dlq.*` headers read out."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str:
        found = [v for k, v in self.headers if k == name]
        return found[-1].decode("utf-8", "replace") if found else ""

    @property
    def reason(self) -> str:
        return self.header(DLQ_REASON)

    @property
    def source_topic(self) -> str:
        return self.header(DLQ_SOURCE_TOPIC)

    @property
    def event_id(self) -> str:
        return self.header(CE_ID)

    @property
    def failed_at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.header(DLQ_FAILED_AT))
        except ValueError:
            return None

    @property
    def coordinates(self) -> str:
        """What a replay's marker names: this dead letter, uniquely."""
        return f"{self.topic}:{self.partition}:{self.offset}"

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers the record had before it was refused (every `dlq.*` header removed)."""
        return [(k, v) for k, v in self.headers if not k.startswith(DLQ_HEADER_PREFIX)]

    def summary(self) -> dict[str, Any]:
        return {
            "dlq": self.coordinates,
            "reason": self.reason,
            "error": self.header("dlq.error_message"),
            "source": ":".join(
                (self.source_topic, self.header(DLQ_SOURCE_PARTITION), self.header(DLQ_SOURCE_OFFSET))
            ),
            "group": self.header(DLQ_CONSUMER_GROUP),
            "failed_at": self.header(DLQ_FAILED_AT),
            "event_id": self.event_id,
            "replay_of": self.header(REPLAYED_FROM) or None,
        }


@dataclass(frozen=True)
class Selection:
    """Which dead letters a command works on; every given filter must match."""

    groups: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    source_topic: str | None = None
    partition: int | None = None
    from_offset: int | None = None
    to_offset: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    event_ids: tuple[str, ...] = ()

    def topics(self) -> list[str]:
        return [dead_letter_topic(g) for g in self.groups] if self.groups else list(DEAD_LETTER_TOPICS)

    def matches(self, letter: DeadLetter) -> bool:
        failed_at = letter.failed_at
        checks = [
            not self.reasons or letter.reason in self.reasons,
            self.source_topic is None or letter.source_topic == self.source_topic,
            self.partition is None or letter.partition == self.partition,
            self.from_offset is None or letter.offset >= self.from_offset,
            self.to_offset is None or letter.offset <= self.to_offset,
            self.since is None or (failed_at is not None and failed_at >= self.since),
            self.until is None or (failed_at is not None and failed_at <= self.until),
            not self.event_ids or letter.event_id in self.event_ids,
        ]
        return all(checks)


async def _read_to_end(
    client: AIOKafkaConsumer, topics: Sequence[str], start: dict[TopicPartition, int] | None = None
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topics` from `start` (default: the beginning) up to the end offsets at
    the time of the call: a bounded read, whatever arrives meanwhile."""
    tps: list[TopicPartition] = []
    for topic in topics:
        partitions = client.partitions_for_topic(topic)
        if not partitions:
            await client._client.force_metadata_update()
            partitions = client.partitions_for_topic(topic) or set()
        if not partitions:
            raise UsageError(f"topic {topic} does not exist on the broker")
        tps += [TopicPartition(topic, p) for p in sorted(partitions)]
    client.assign(tps)
    ends = await client.end_offsets(tps)
    begins = await client.beginning_offsets(tps)
    todo = {}
    for tp in tps:
        at = max((start or {}).get(tp, begins[tp]), begins[tp])
        if at < ends[tp]:
            client.seek(tp, at)
            todo[tp] = ends[tp]
    records: list[ConsumerRecord[bytes, bytes]] = []
    while todo:
        batches = await client.getmany(*todo, timeout_ms=1000)
        for tp, batch in batches.items():
            records += [r for r in batch if r.offset < todo.get(tp, 0)]
        for tp in list(todo):
            # The position, not the last record: offsets without a record (compaction) count too.
            if await client.position(tp) >= todo[tp]:
                todo.pop(tp)
    return records


async def dead_letters(kafka: KafkaAccess, selection: Selection) -> list[DeadLetter]:
    async with consumer(kafka) as client:
        records = await _read_to_end(client, selection.topics())
    letters = [
        DeadLetter(r.topic, r.partition, r.offset, r.key, r.value, tuple((k, v) for k, v in r.headers))
        for r in records
    ]
    return sorted(
        (d for d in letters if selection.matches(d)), key=lambda d: (d.topic, d.partition, d.offset)
    )


async def replayed_already(kafka: KafkaAccess, letters: Sequence[DeadLetter]) -> set[str]:
    """The coordinates of the dead letters among `letters` whose replay is on the source topic
    (read from the time the earliest of them was dead-lettered)."""
    wanted = {d.coordinates for d in letters}
    found: set[str] = set()
    by_topic: dict[str, datetime] = {}
    for d in letters:
        at = d.failed_at or datetime.fromtimestamp(0, UTC)
        by_topic[d.source_topic] = min(by_topic.get(d.source_topic, at), at)
    async with consumer(kafka) as client:
        for topic, since in by_topic.items():
            partitions = client.partitions_for_topic(topic) or set()
            if not partitions:
                await client._client.force_metadata_update()
                partitions = client.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            offsets = await client.offsets_for_times({tp: int(since.timestamp() * 1000) for tp in tps})
            start = {tp: o.offset for tp, o in offsets.items() if o is not None}
            ends = await client.end_offsets(tps)
            start |= {tp: ends[tp] for tp in tps if tp not in start}  # nothing that late: none
            for record in await _read_to_end(client, [topic], start):
                for k, v in record.headers:
                    if k == REPLAYED_FROM and v.decode("utf-8", "replace") in wanted:
                        found.add(v.decode())
    return found


@dataclass(frozen=True)
class ReplayOutcome:
    replayed: list[DeadLetter]
    skipped: list[DeadLetter]
    """Replayed before (their marker is on the source topic)."""
    dry_run: bool


async def replay(kafka: KafkaAccess, selection: Selection, *, dry_run: bool, force: bool) -> ReplayOutcome:
    letters = await dead_letters(kafka, selection)
    unknown = [d for d in letters if not d.source_topic]
    if unknown:
        raise OperationFailed(
            f"{len(unknown)} dead letters name no source topic (e.g. {unknown[0].coordinates})"
        )
    done = set() if force else await replayed_already(kafka, letters)
    todo = [d for d in letters if d.coordinates not in done]
    skipped = [d for d in letters if d.coordinates in done]
    if not dry_run and todo:
        now = datetime.now(UTC).isoformat().encode()
        async with producer(kafka) as client:
            for d in todo:
                headers = [*d.original_headers(), (REPLAYED_FROM, d.coordinates.encode()), (REPLAYED_AT, now)]
                await client.send_and_wait(d.source_topic, value=d.value, key=d.key, headers=headers)
    return ReplayOutcome(replayed=todo, skipped=skipped, dry_run=dry_run)


def _selection(
    *,
    group: list[str] | None,
    reason: list[str] | None,
    source_topic: str | None,
    partition: int | None,
    from_offset: int | None,
    to_offset: int | None,
    since: datetime | None,
    until: datetime | None,
    event_id: list[str] | None,
) -> Selection:
    for g in group or []:
        if g not in CONSUMER_GROUPS:
            raise UsageError(f"unknown consumer group {g!r}; one of: {', '.join(CONSUMER_GROUPS)}")
    return Selection(
        groups=tuple(group or ()),
        reasons=tuple(reason or ()),
        source_topic=resolve_topic(source_topic) if source_topic else None,
        partition=partition,
        from_offset=from_offset,
        to_offset=to_offset,
        since=_aware(since),
        until=_aware(until),
        event_ids=tuple(event_id or ()),
    )


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


GroupOpt = Annotated[
    list[str] | None, typer.Option("--group", help="Dead-letter topic of this consumer group (repeatable).")
]
ReasonOpt = Annotated[list[str] | None, typer.Option("--reason", help="dlq.reason to select (repeatable).")]
TopicOpt = Annotated[str | None, typer.Option("--topic", help="Original topic (full or short name).")]
PartitionOpt = Annotated[int | None, typer.Option("--partition", min=0, help="Dead-letter partition.")]
FromOpt = Annotated[int | None, typer.Option("--from-offset", min=0, help="First dead-letter offset.")]
ToOpt = Annotated[int | None, typer.Option("--to-offset", min=0, help="Last dead-letter offset.")]
SinceOpt = Annotated[
    datetime | None, typer.Option("--since", help="Dead-lettered at or after (UTC if naive).")
]
UntilOpt = Annotated[datetime | None, typer.Option("--until", help="Dead-lettered at or before.")]
IdOpt = Annotated[list[str] | None, typer.Option("--id", help="CloudEvents id (repeatable).")]


def _print(cli: CliContext, letters: Sequence[DeadLetter], title: str) -> None:
    table = Table(title=title)
    for column in ("dead letter", "reason", "source", "failed at", "event id"):
        table.add_column(column)
    for d in letters:
        s = d.summary()
        table.add_row(s["dlq"], s["reason"], s["source"], s["failed_at"], s["event_id"])
    cli.console.print(table)


@app.command("list")
def list_(
    ctx: typer.Context,
    *,
    group: GroupOpt = None,
    reason: ReasonOpt = None,
    topic: TopicOpt = None,
    partition: PartitionOpt = None,
    from_offset: FromOpt = None,
    to_offset: ToOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    event_id: IdOpt = None,
) -> None:
    """List dead letters with their reason, source and time."""
    cli = state(ctx)
    selection = cli.attempt(
        lambda: _selection(
            group=group,
            reason=reason,
            source_topic=topic,
            partition=partition,
            from_offset=from_offset,
            to_offset=to_offset,
            since=since,
            until=until,
            event_id=event_id,
        )
    )
    letters = cli.run(dead_letters(cli.endpoints.kafka_as("operator"), selection))
    if cli.json_output:
        cli.emit([d.summary() for d in letters])
    else:
        _print(cli, letters, f"{len(letters)} dead letters")


@app.command("replay")
def replay_(
    ctx: typer.Context,
    *,
    group: GroupOpt = None,
    reason: ReasonOpt = None,
    topic: TopicOpt = None,
    partition: PartitionOpt = None,
    from_offset: FromOpt = None,
    to_offset: ToOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    event_id: IdOpt = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be replayed; send nothing.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Replay even dead letters replayed before.")] = False,
) -> None:
    """Publish the selected dead letters' original records to their original topics again."""
    cli = state(ctx)
    selection = cli.attempt(
        lambda: _selection(
            group=group,
            reason=reason,
            source_topic=topic,
            partition=partition,
            from_offset=from_offset,
            to_offset=to_offset,
            since=since,
            until=until,
            event_id=event_id,
        )
    )
    if selection == Selection():
        raise cli.fail(
            UsageError("select what to replay (--reason, --group, --topic, offsets, times or --id)")
        )
    # Replay writes each record back to its own topic (an LMS's, an agency's, a service's), as it
    # was: only the provisioning super user may write them all (docs/security.md).
    outcome = cli.run(replay(_super_user(cli), selection, dry_run=dry_run, force=force))
    if cli.json_output:
        cli.emit(
            {
                "dry_run": outcome.dry_run,
                "replayed": [d.summary() for d in outcome.replayed],
                "skipped_already_replayed": [d.summary() for d in outcome.skipped],
            }
        )
        return
    verb = "would replay" if dry_run else "replayed"
    _print(cli, outcome.replayed, f"{verb} {len(outcome.replayed)}")
    if outcome.skipped:
        _print(
            cli, outcome.skipped, f"skipped {len(outcome.skipped)} replayed before (--force to replay again)"
        )


def _super_user(cli: CliContext) -> KafkaAccess:
    from deploy.tools.kafka_security import load

    return cli.endpoints.kafka_as(load().super_user)
