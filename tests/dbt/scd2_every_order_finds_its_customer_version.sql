-- Point in time: every order of a known customer joins the version valid when it was placed.
select fact_orders.order_item_id
from {{ ref('fact_orders') }} as fact_orders
left join {{ ref('dim_customers') }} as dim_customers
    on fact_orders.customer_sk = dim_customers.customer_sk
where fact_orders.customer_id is not null
  and (
    dim_customers.customer_id is distinct from fact_orders.customer_id
    or fact_orders.order_at < dim_customers.valid_from
    or fact_orders.order_at >= coalesce(dim_customers.valid_to, {{ far_future() }})
  )
