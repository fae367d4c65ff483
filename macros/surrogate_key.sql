{#- A stable surrogate key from natural-key columns: md5 of the values joined with '|'. -#}
{% macro surrogate_key(columns) -%}
md5({% for column in columns %}coalesce(cast({{ column }} as varchar), '') {%- if not loop.last %} || '|' || {% endif %}{% endfor %})
{%- endmacro %}
