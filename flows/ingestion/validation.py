"""Check records against their entity's declared schema and rules, in SQL: one reason per rejection.

Every source is first put in one shape, a DuckDB relation with, per record:
- each field of the entity as text (NULL when absent). An integer must be written as one:
  `"quantity": 1.5` or `true` is a wrong type, never a silently rounded value;
- `_record` (the record as received: the JSON line, or the row as JSON), `_source` (where it was
  read), `_file` and `_line` (for landing files, else NULL), `_fallback_date` (the partition of
  a record whose own date cannot be read) and `_problem` (a reason already known while reading:
  malformed_json, unknown_column …).
The checks then run as one query per batch into the temporary table `checked`: typed with
try_cast, the first broken rule as the reason (CASE … in the order the rules are declared), no
record ever handled in Python. A caller may add reasons of its own to `checked` (duplicates)
before `split_checked` reads out raw and quarantine.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from flows.lake.entities import QUARANTINE_SCHEMA, Entity
from flows.runtime.duck import quoted

INTEGER_TEXT = r"^\s*-?\d+\s*$"


@dataclass(frozen=True)
class Rule:
    """An extra rule in SQL over the typed columns: rows where `broken` is true get `reason`."""

    broken: str
    reason: str  # a SQL expression


@dataclass(frozen=True)
class Checked:
    """Records split into those that land in raw and those that go to quarantine."""

    entity: Entity
    good: pa.Table  # entity.raw_schema
    bad: pa.Table  # QUARANTINE_SCHEMA

    @property
    def records(self) -> int:
        return self.good.num_rows + self.bad.num_rows


def _sql_type(kind: pa.DataType) -> str:
    if pa.types.is_timestamp(kind):
        return "timestamptz"
    if pa.types.is_decimal(kind):
        return f"decimal({kind.precision}, {kind.scale})"
    if pa.types.is_integer(kind):
        return "bigint"
    if pa.types.is_floating(kind):
        return "double"
    if pa.types.is_date(kind):
        return "date"
    return "varchar"


def _typed(field: pa.Field) -> str:
    """The field's value as its type, NULL when the text will not convert."""
    name = f'src."{field.name}"'
    if pa.types.is_integer(field.type):  # try_cast would round '1.5' to 2
        whole = f"regexp_matches({name}, '{INTEGER_TEXT}')"
        return f"case when {whole} then try_cast({name} as bigint) end"
    if pa.types.is_string(field.type):
        return name
    return f"try_cast({name} as {_sql_type(field.type)})"


def _rules(entity: Entity, typed: dict[str, str]) -> list[tuple[str, str]]:
    """(broken, reason) in the order a reason is chosen: type, required, allowed, range, order,
    bounds across columns."""
    rules: list[tuple[str, str]] = []
    for field in entity.schema:
        name = f'src."{field.name}"'
        broken = f"{name} is not null and {typed[field.name]} is null"
        rules.append((broken, f"'wrong_type: {field.name}=' || coalesce({name}, 'null')"))
    for name in entity.required:
        rules.append((f"{typed[name]} is null", quoted(f"missing_required: {name}")))
    for name, allowed in entity.allowed.items():
        values = ", ".join(quoted(value) for value in allowed)
        rules.append(
            (
                f"{typed[name]} is not null and {typed[name]} not in ({values})",
                f"'invalid_value: {name}=''' || {typed[name]} || ''''",
            )
        )
    for names, operator, text in (
        (entity.positive, "<=", "(must be > 0)"),
        (entity.non_negative, "<", "(must be >= 0)"),
    ):
        for name in names:
            rules.append(
                (
                    f"{typed[name]} {operator} 0",
                    f"'out_of_range: {name}=' || cast({typed[name]} as varchar) || ' {text}'",
                )
            )
    for name, bound in entity.maximum.items():
        rules.append(
            (
                f"{typed[name]} > {bound}",
                f"'out_of_range: {name}=' || cast({typed[name]} as varchar)"
                f" || ' (must be <= {bound:g})'",
            )
        )
    for later, earlier in entity.not_before:
        rules.append(
            (
                f"{typed[later]} < {typed[earlier]}",
                f"'out_of_order: {later} ' || cast({typed[later]} as varchar)"
                f" || ' is before {earlier} ' || cast({typed[earlier]} as varchar)",
            )
        )
    for name, factors in entity.at_most:
        bound = " * ".join(typed[factor] for factor in factors)
        rules.append(
            (
                f"{typed[name]} > {bound}",
                f"'out_of_range: {name}=' || cast({typed[name]} as varchar)"
                f" || ' (must be <= {' * '.join(factors)} = ' || cast({bound} as varchar) || ')'",
            )
        )
    return rules


def check_into_table(
    connection: duckdb.DuckDBPyConnection,
    entity: Entity,
    relation: str,
    rules: Sequence[Rule] = (),
) -> None:
    """Type and check the records of `relation` into the temporary table `checked`."""
    typed = {field.name: _typed(field) for field in entity.schema}
    columns = ",\n".join(f'{typed[f.name]} as "{f.name}"' for f in entity.schema)
    reasons = ["src._problem"]
    for broken, reason in _rules(entity, typed):
        reasons.append(f"case when {broken} then {reason} end")
    # extra rules read the typed columns, so they are chosen after the declared ones
    extra = [f"case when {rule.broken} then {rule.reason} end" for rule in rules]
    # the UTC day from the epoch: timezone('UTC', …) goes through ICU, five times slower
    partition = f'cast(make_timestamp(epoch_us(typed."{entity.partition_by}")) as date)'
    if pa.types.is_date(entity.schema.field(entity.partition_by).type):
        partition = f'typed."{entity.partition_by}"'
    connection.execute(
        f"""
        create or replace temporary table checked as
        with typed_first as (
            select {columns}, src._record, src._source, src._file, src._line, src._fallback_date,
                coalesce({", ".join(reasons)}) as _reason
            from ({relation}) as src
        ),
        typed as (
            select * replace (
                coalesce(_reason{"".join(", " + rule for rule in extra)}) as _reason
            )
            from typed_first
        )
        select *, coalesce({partition}, _fallback_date) as _partition_date from typed
        """
    )


def split_checked(connection: duckdb.DuckDBPyConnection, entity: Entity, run_id: str) -> Checked:
    """Raw rows (no reason) and quarantine rows (with theirs) from `checked`."""
    good = connection.execute(
        f"""
        select {", ".join(f'"{name}"' for name in entity.schema.names)},
            {quoted(run_id)} as _run_id, _source, current_timestamp as _ingested_at
        from checked where _reason is null
        """
    ).to_arrow_table()
    bad = connection.execute(
        f"""
        select _record as record, _reason as reason, {quoted(run_id)} as _run_id, _source,
            _partition_date as partition_date
        from checked where _reason is not null
        """
    ).to_arrow_table()
    return Checked(entity, good.cast(entity.raw_schema), bad.cast(QUARANTINE_SCHEMA))


def check(
    connection: duckdb.DuckDBPyConnection,
    entity: Entity,
    relation: str,
    run_id: str,
    rules: Sequence[Rule] = (),
) -> Checked:
    """Split the records of `relation` (SQL naming a table or view in the shape above)."""
    check_into_table(connection, entity, relation, rules=rules)
    checked = split_checked(connection, entity, run_id)
    connection.execute("drop table checked")
    return checked
