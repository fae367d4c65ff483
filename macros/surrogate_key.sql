{#- A stable surrogate key from natural-key columns: md5 of the values joined with '|'. A column
    given as (name, 'timestamp') is a UTC timestamp, spelled as DuckDB spells it on both engines
    (macros/engine.sql key_text), so a key is the same whichever engine built it. -#}
{% macro surrogate_key(columns) -%}
md5(
{%- for column in columns -%}
    {%- if column is string -%}{%- set text = key_text(column) -%}
    {%- else -%}{%- set text = key_text(column[0], is_timestamp=true) -%}{%- endif -%}
    coalesce({{ text }}, '') {%- if not loop.last %} || '|' || {% endif -%}
{%- endfor -%}
)
{%- endmacro %}
