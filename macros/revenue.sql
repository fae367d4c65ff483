{#- The one definition of revenue: net amount of lines whose order was neither cancelled nor
    returned (nor of unknown status: a line whose header is in quarantine). -#}
{% macro revenue_statuses_excluded() -%}
('cancelled', 'returned', 'unknown')
{%- endmacro %}
