{#- The one definition of revenue: net amount of lines whose order was neither cancelled nor
    returned (nor of unknown status: a line whose header is in quarantine). -#}
{% macro revenue_statuses_excluded() -%}
('cancelled', 'returned', 'unknown')
{%- endmacro %}

{#- Aggregates over revenue lines only: `sum(net_amount) {{ for_revenue() }}`. Every mart counts
    revenue through this (or `only_revenue()` in a where clause), so the rule has one home. -#}
{% macro for_revenue(relation=none) -%}
filter (where {{ only_revenue(relation) }})
{%- endmacro %}

{% macro only_revenue(relation=none) -%}
{{ relation ~ '.' if relation }}is_revenue
{%- endmacro %}
