{#- The original platform's customer segments (SPEC §4), used by customer_lifetime_value. -#}

{% macro value_segment(orders, value) -%}
case
    when {{ orders }} >= 10 and {{ value }} >= 1000 then 'VIP'
    when {{ orders }} >= 5 and {{ value }} >= 500 then 'High'
    when {{ orders }} >= 3 and {{ value }} >= 200 then 'Medium'
    when {{ orders }} >= 1 and {{ value }} >= 50 then 'Low'
    else 'At Risk'
end
{%- endmacro %}

{% macro recency_segment(days) -%}
case
    when {{ days }} is null then 'Never Ordered'
    when {{ days }} <= 30 then 'Active'
    when {{ days }} <= 90 then 'At Risk'
    when {{ days }} <= 180 then 'Churning'
    else 'Churned'
end
{%- endmacro %}

{% macro frequency_segment(orders) -%}
case
    when {{ orders }} = 0 then 'None'
    when {{ orders }} = 1 then 'One-Time'
    when {{ orders }} <= 4 then 'Occasional'
    when {{ orders }} <= 9 then 'Regular'
    else 'Loyal'
end
{%- endmacro %}
