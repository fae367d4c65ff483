{#- Keep one row per key: the one with the greatest ordering column (DuckDB's qualify). -#}
{% macro latest_version(key, order_by) -%}
qualify row_number() over (partition by {{ key }} order by {{ order_by }} desc) = 1
{%- endmacro %}
