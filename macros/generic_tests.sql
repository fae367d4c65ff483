{#- Generic tests the project needs (no dbt packages can be installed here). -#}

{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and (
    false
    {%- if min_value is not none %} or {{ column_name }} < {{ min_value }}{% endif %}
    {%- if max_value is not none %} or {{ column_name }} > {{ max_value }}{% endif %}
  )
{% endtest %}

{% test unique_combination(model, combination_of_columns) %}
select {{ combination_of_columns | join(', ') }}
from {{ model }}
group by {{ combination_of_columns | join(', ') }}
having count(*) > 1
{% endtest %}

{% test expression_is_true(model, expression, column_name=none) %}
select *
from {{ model }}
where not ({{ expression }})
{% endtest %}

{#- A column's values belong to one of the value sets declared in dbt_project.yml (var
    value_sets): the same declaration ingestion enforces. -#}
{% test in_value_set(model, column_name, value_set, also=[]) %}
{#- also: members a model adds to the set, such as a dimension's 'unknown' -#}
{%- set values = var('value_sets')[value_set] + also -%}
select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
  and {{ column_name }} not in (
    {%- for value in values %}'{{ value | replace("'", "''") }}'{{ "," if not loop.last }}{% endfor -%}
  )
{% endtest %}
