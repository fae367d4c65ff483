{#- A filter on the Hive partition columns that DuckDB uses to skip files. The sources read
    them as zero-padded text (hive_types_autocast = false), which orders like the dates. -#}
{% macro partition_since(day) -%}
(
    year > '{{ "%04d" % day.year }}'
    or (year = '{{ "%04d" % day.year }}' and month > '{{ "%02d" % day.month }}')
    or (
        year = '{{ "%04d" % day.year }}'
        and month = '{{ "%02d" % day.month }}'
        and day >= '{{ "%02d" % day.day }}'
    )
)
{%- endmacro %}
