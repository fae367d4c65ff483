{#- For an incremental run: the date of the newest `column` value in the model, less
    `lookback_days`; none on a full build (or before the model has rows). -#}
{% macro incremental_since(column, lookback_days) %}
    {% if not (execute and is_incremental()) %}
        {{ return(none) }}
    {% endif %}
    {% set newest = run_query("select cast(max(" ~ column ~ ") as date) from " ~ this).columns[0].values()[0] %}
    {% if newest is none %}
        {{ return(none) }}
    {% endif %}
    {{ return(newest - modules.datetime.timedelta(days=lookback_days | int)) }}
{% endmacro %}

{#- fact_orders' incremental window: changes since its newest, less var('fact_lookback_days'),
    or from the first lake partition written since the last build when that is earlier: a line
    committed late with an old timestamp lands in an old partition, behind any lookback. -#}
{% macro fact_since() %}
    {% set since = incremental_since('order_updated_at', var('fact_lookback_days')) %}
    {% if since is not none and lake_since() is not none and lake_since() < since %}
        {{ return(lake_since()) }}
    {% endif %}
    {{ return(since) }}
{% endmacro %}

{#- On an incremental run, the first lake partition day written since the last build that
    passed (DBT_LAKEHOUSE_LAKE_SINCE, from the pipeline; var lake_since overrides it, as unit
    tests do); none on a full build or when not given. An environment variable read at
    execution only, never while parsing: a dbt var that changes every day would make dbt
    re-parse the whole project on every build. -#}
{% macro lake_since() %}
    {% if not (execute and is_incremental()) %}
        {{ return(none) }}
    {% endif %}
    {% set since = var('lake_since', env_var('DBT_LAKEHOUSE_LAKE_SINCE', '') or none) %}
    {{ return(none if since is none else modules.datetime.date.fromisoformat(since)) }}
{% endmacro %}

{#- A lake source read whole, or on an incremental build only from its partitions of
    lake_since() on (DuckDB skips the other partitions' files). -#}
{% macro changed_partitions(relation) -%}
select * from {{ relation }}
{% if lake_since() is not none -%}
where {{ partition_since(lake_since()) }}
{%- endif %}
{%- endmacro %}
