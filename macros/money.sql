{#- Money divided by a count, in DECIMAL arithmetic, rounded once to the cent, half away from
    zero (half-up for the non-negative amounts the marts divide): decimal(18, 2); null when the
    count is 0 or null. DuckDB's `/` on decimals returns DOUBLE (105.81 / 2 or 1.13 / 2 round
    down there), so the quotient is taken in whole cents: round(a / n) = floor((2a + n) / 2n).
    `amount` has at most 2 decimals (a money column or a sum of one); `count` is an integer. -#}
{% macro divide_money(amount, count) -%}
cast(
    cast(
        sign({{ amount }}) * sign({{ count }})
        * (
            {{ int_div(
                'cast(abs(' ~ amount ~ ') * 100 as ' ~ wide_integer() ~ ') * 2 + abs(nullif('
                ~ count ~ ', 0))',
                '2 * abs(nullif(' ~ count ~ ', 0))'
            ) }}
        )
        as decimal(18, 0)
    ) * 0.01
    as decimal(18, 2)
)
{%- endmacro %}
