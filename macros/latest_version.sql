{#- Keep one row per key: the one with the greatest ordering column (DuckDB's qualify). -#}
{% macro latest_version(key, order_by) -%}
qualify row_number() over (partition by {{ key }} order by {{ order_by }} desc) = 1
{%- endmacro %}

{#- The final CTE of a latest-version staging model, given the CTE of rows read (`rows`). On an
    incremental build the row already held for each touched key competes with the new ones,
    so a late, older version never replaces a newer. -#}
{% macro latest_versions(rows, key, order_by) -%}
{% if is_incremental() -%}
current_versions as (

    select * from {{ this }}
    where {{ key }} in (select {{ key }} from {{ rows }})

),

candidates as (

    select * from {{ rows }}
    union all by name
    select * from current_versions

),
{%- else -%}
candidates as (

    select * from {{ rows }}

),
{%- endif %}

final as (

    select * from candidates
    {{ latest_version(key, order_by) }}

)
{%- endmacro %}
