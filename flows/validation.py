"""Check records against their entity's declared schema and rules: one reason per rejection.

Records are typed and checked column by column with Arrow; a batch whose values will not even
convert is checked record by record instead, so one bad value never sinks its neighbours.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import InvalidOperation

import pyarrow as pa
import pyarrow.compute as pc

from flows.schemas import QUARANTINE_SCHEMA, Entity

# An extra rule: given the typed table, (rows that break it, the reason for each row).
Rule = Callable[[pa.Table], tuple[pa.Array, pa.Array]]


@dataclass(frozen=True)
class Checked:
    """Records split into those that land in raw and those that go to quarantine."""

    entity: Entity
    good: pa.Table  # entity.raw_schema
    bad: pa.Table  # QUARANTINE_SCHEMA

    @property
    def records(self) -> int:
        return self.good.num_rows + self.bad.num_rows


def _record_text(record: object) -> str:
    if isinstance(record, str):
        return record
    return json.dumps(record, default=str, sort_keys=True)


def _typed_column(values: list, kind: pa.DataType) -> pa.Array:
    """Values as `kind`; raises (pa.ArrowInvalid, TypeError, …) when any will not convert."""
    if pa.types.is_timestamp(kind):
        if all(value is None or isinstance(value, datetime) for value in values):
            return pa.array(values, pa.timestamp("us", "UTC"))
        strings = pa.array([None if v is None else str(v).replace(" ", "T") for v in values])
        if not pa.types.is_string(strings.type):
            raise TypeError("timestamps must be text")
        zoned = pc.fill_null(pc.match_substring_regex(strings, r"(Z|[+-]\d\d:\d\d)$"), True)
        if pc.all(zoned).as_py():
            return strings.cast(pa.timestamp("us", "UTC"))
        if pc.any(zoned).as_py():
            raise TypeError("mixed zoned and naive timestamps")
        return strings.cast(pa.timestamp("us")).cast(pa.timestamp("us", "UTC"))  # naive: UTC
    if pa.types.is_decimal(kind):
        texts = [None if value is None else str(value) for value in values]
        return pa.array(texts, pa.string()).cast(kind)
    if pa.types.is_date(kind):
        return pa.array(
            [v if v is None or isinstance(v, date) else date.fromisoformat(v) for v in values],
            kind,
        )
    if pa.types.is_integer(kind) and any(isinstance(value, bool | float) for value in values):
        raise TypeError("integers must not be booleans or floats")
    return pa.array(values, kind)


def _typed_table(entity: Entity, records: list[dict]) -> pa.Table:
    return pa.table(
        {
            field.name: _typed_column([r.get(field.name) for r in records], field.type)
            for field in entity.schema
        },
        schema=entity.schema,
    )


def _value_text(column: pa.Array) -> pa.Array:
    return pc.cast(column, pa.string())


def _schema_rules(entity: Entity, table: pa.Table) -> list[tuple[pa.Array, pa.Array]]:
    """The entity's declared rules, in the order a reason is chosen."""
    rules: list[tuple[pa.Array, pa.Array]] = []
    for name in entity.required:
        rules.append((pc.is_null(table[name]), pa.scalar(f"missing_required: {name}")))
    for name, allowed in entity.allowed.items():
        column = table[name]
        outside = pc.invert(pc.is_in(column, value_set=pa.array(allowed, column.type)))
        rules.append(
            (
                pc.and_(pc.is_valid(column), outside),
                pc.binary_join_element_wise(
                    f"invalid_value: {name}='", _value_text(column), "'", ""
                ),
            )
        )
    for names, bound, text in (
        (entity.positive, pc.less_equal, "(must be > 0)"),
        (entity.non_negative, pc.less, "(must be >= 0)"),
    ):
        for name in names:
            column = table[name]
            zero = pa.scalar(0, column.type)
            rules.append(
                (
                    bound(column, zero),
                    pc.binary_join_element_wise(
                        f"out_of_range: {name}=", _value_text(column), f" {text}", ""
                    ),
                )
            )
    return rules


def _first_reasons(count: int, rules: list[tuple[pa.Array, pa.Array]]) -> pa.Array:
    reason = pa.nulls(count, pa.string())
    for broken, text in rules:
        broken = pc.fill_null(broken, False)
        if not pc.any(broken).as_py():
            continue
        if isinstance(text, pa.Scalar):
            text = pa.array([text.as_py()] * count, pa.string())
        reason = pc.if_else(pc.and_(broken, pc.is_null(reason)), text, reason)
    return reason


def _record_problem(entity: Entity, record: dict) -> str | None:
    """The slow path: type one record, naming the first value that will not convert."""
    for column in entity.schema:
        try:
            _typed_column([record.get(column.name)], column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, InvalidOperation):
            return f"wrong_type: {column.name}={record.get(column.name)!r}"
    return None


def check(
    entity: Entity,
    records: Sequence[dict | str],
    sources: Sequence[str],
    fallback_dates: Sequence[date],
    run_id: str,
    rules: Sequence[Rule] = (),
) -> Checked:
    """Split `records` (dicts, or raw text lines that did not parse) into raw and quarantine.

    `sources` names where each record was read (lineage); `fallback_dates` is the partition of a
    rejected record whose own date cannot be read.
    """
    known = set(entity.schema.names)
    reasons: list[str | None] = []
    for record in records:
        if isinstance(record, str):
            reasons.append("malformed_json")
        elif extra := sorted(set(record) - known):
            reasons.append(f"unknown_column: {', '.join(extra)}")
        else:
            reasons.append(None)
    candidates = [i for i, reason in enumerate(reasons) if reason is None]
    typed = [records[i] for i in candidates]
    try:
        table = _typed_table(entity, typed)  # type: ignore[arg-type]
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, InvalidOperation):
        for i in candidates:
            reasons[i] = _record_problem(entity, records[i])  # type: ignore[arg-type]
        candidates = [i for i in candidates if reasons[i] is None]
        table = _typed_table(entity, [records[i] for i in candidates])  # type: ignore[misc]
    all_rules = _schema_rules(entity, table) + [rule(table) for rule in rules]
    for i, reason in zip(
        candidates, _first_reasons(table.num_rows, all_rules).to_pylist(), strict=True
    ):
        reasons[i] = reason

    good_rows = [position for position, i in enumerate(candidates) if reasons[i] is None]
    good_sources = [sources[candidates[position]] for position in good_rows]
    good = table.take(pa.array(good_rows, pa.int64()))
    good = good.append_column("_run_id", pa.array([run_id] * good.num_rows, pa.string()))
    good = good.append_column("_source", pa.array(good_sources, pa.string()))
    landed = pa.array([datetime.now(UTC)] * good.num_rows, pa.timestamp("us", "UTC"))
    good = good.append_column("_ingested_at", landed)

    bad_indices = [i for i, reason in enumerate(reasons) if reason is not None]
    partition = [_partition_date(entity, records[i], fallback_dates[i]) for i in bad_indices]
    bad = pa.table(
        {
            "record": [_record_text(records[i]) for i in bad_indices],
            "reason": [reasons[i] for i in bad_indices],
            "_run_id": [run_id] * len(bad_indices),
            "_source": [sources[i] for i in bad_indices],
            "partition_date": partition,
        },
        schema=QUARANTINE_SCHEMA,
    )
    return Checked(entity, good.cast(entity.raw_schema), bad)


def _partition_date(entity: Entity, record: dict | str, fallback: date) -> date:
    """The date the record would have landed in, when it can be read; else the fallback."""
    if isinstance(record, str):
        return fallback
    value = record.get(entity.partition_by)
    try:
        if isinstance(value, datetime):
            return value.astimezone(UTC).date()
        if isinstance(value, date):
            return value
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).date()
    except (TypeError, ValueError):
        return fallback


def combine(parts: Sequence[Checked]) -> Checked:
    entity = parts[0].entity
    return Checked(
        entity,
        pa.concat_tables([part.good for part in parts]),
        pa.concat_tables([part.bad for part in parts]),
    )
