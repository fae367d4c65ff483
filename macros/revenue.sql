{#- The one definition of revenue: net amount of lines whose order was not cancelled or returned. -#}
{% macro revenue_statuses_excluded() -%}
('cancelled', 'returned')
{%- endmacro %}
