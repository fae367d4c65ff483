"""Lines of JSON in the checks' shape: each field as its text, parsed by DuckDB.

The catalog's products and the clickstream's events both arrive as JSON text; neither is
parsed in Python.
"""

from __future__ import annotations

import json

from flows.lake.entities import Entity
from flows.runtime.duck import quoted


def _structure(paths: list[str]) -> dict:
    """The from_json structure that reads every path as text: {"rating": {"rate": "VARCHAR"}}."""
    structure: dict = {}
    for path in paths:
        node = structure
        *parents, leaf = path.removeprefix("$.").split(".")
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = "VARCHAR"
    return structure


def json_records(
    entity: Entity, lines: str, renames: dict[str, str] | None = None, strict_keys: bool = True
) -> str:
    """Lines of JSON objects in the checks' shape: each field as its text.

    Each line is parsed once into a struct of text (numbers keep their JSON spelling, so
    `1.5` stays "1.5" and fails an integer column). `renames` maps a field to the JSON path it
    is read from, when the names differ; with `strict_keys`, a key the entity does not know
    sends the record to quarantine. `lines` has: line, _source, _file, _line, _fallback_date.
    """
    renames = renames or {}
    paths = [renames.get(name, f"$.{name}") for name in entity.schema.names]
    structure = json.dumps(_structure(paths))
    known = ", ".join(quoted(path.removeprefix("$.").split(".")[0]) for path in paths)
    fields = ", ".join(
        f'parsed.value.{path.removeprefix("$.")} as "{name}"'
        for name, path in zip(entity.schema.names, paths, strict=True)
    )
    unknown = (
        f"list_filter(json_keys(line), key -> not list_contains([{known}], key))"
        if strict_keys
        else "[]"
    )
    return f"""
        with objects as (
            select *, coalesce(json_valid(line) and starts_with(ltrim(line), '{{'), false)
                as is_object
            from ({lines})
        ),
        parsed as (
            select *,
                case when is_object then from_json(line, {quoted(structure)}) end as value,
                case when is_object then {unknown} end as unknown_keys
            from objects
        )
        select {fields},
            line as _record, _source, _file, _line, _fallback_date,
            case
                when not is_object then 'malformed_json'
                when len(unknown_keys) > 0
                    then 'unknown_column: ' || array_to_string(list_sort(unknown_keys), ', ')
            end as _problem
        from parsed
    """
