{#- dbt's own get_where_subquery (the relation a generic data test reads, filtered by its
    `where`), and one more filter: on a model whose meta names `tests_since` (a date column, or
    a timestamp with time zone: from the day's UTC midnight), the data tests of an incremental
    build read only its rows from DBT_LAKEHOUSE_TESTS_SINCE on.

    The pipeline sets that variable only when the build is incremental and runs under the code
    fingerprint the last build that passed dbt ran under (flows/pipeline.py::build): the models
    and tests are the ones that already passed on every older row, and those rows have not
    changed since. The models that name it append events by day and replace them by id
    (delete+insert on event_id), so a key can appear twice only among the rows this build
    wrote, which all fall on days from lake_since on; an event's session is never removed, so a
    relationship holds for the old rows too. The sessions model rewrites (by session_id) the
    sessions with an event from lake_since on: exactly those that end on a day from it on.
    Whole-table checks stay in the quality gate (counts against the lake). On Spark, whose
    incremental builds overwrite partitions and do not delete by key, the filter is never
    applied.

    The variable is read at execution only (`execute`): dbt re-parses every file that read an
    environment variable while parsing whenever its value changes, and this one changes every
    day (every data test's schema file: 2–4 s of each daily build). -#}
{% macro get_where_subquery(relation) -%}
    {%- set filters = [] -%}
    {%- set where = config.get('where', '') -%}
    {%- if where -%}
        {%- do filters.append('(' ~ where ~ ')') -%}
    {%- endif -%}
    {%- set column = tests_since_column() -%}
    {%- set since = env_var('DBT_LAKEHOUSE_TESTS_SINCE', '') if execute else '' -%}
    {%- if column and since and target.type != 'spark' -%}
        {%- set day = modules.datetime.date.fromisoformat(since) -%}
        {%- do filters.append(column ~ " >= date '" ~ day ~ "'") -%}
    {%- endif -%}
    {%- if filters -%}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ filters | join(' and ') }}) dbt_subquery
        {%- endset -%}
        {%- do return(filtered) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}

{#- The `tests_since` column of the model a data test is attached to, or none. -#}
{% macro tests_since_column() -%}
    {%- set attached = model.get('attached_node') if model is mapping else none -%}
    {%- if not (execute and attached and attached in graph.nodes) -%}
        {%- do return(none) -%}
    {%- endif -%}
    {%- do return(graph.nodes[attached].config.meta.get('tests_since')) -%}
{%- endmacro %}
