with

source as (

    select * from {{ source('shop', 'orders') }}

),

renamed as (

    select
        cast(order_id as bigint) as order_id,
        cast(customer_id as bigint) as customer_id,
        cast(order_at as timestamptz) as order_at,
        cast(timezone('UTC', order_at) as date) as order_date,
        status as order_status,
        payment_method,
        cast(total_amount as decimal(12, 2)) as total_amount,
        cast(updated_at as timestamptz) as updated_at

    from source

),

final as (

    select * from renamed
    {{ latest_version('order_id', 'updated_at') }}

)

select * from final
