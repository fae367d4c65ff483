with

source as (

    select * from {{ source('shop', 'order_items') }}

),

renamed as (

    select
        cast(order_item_id as bigint) as order_item_id,
        cast(order_id as bigint) as order_id,
        cast(product_id as bigint) as product_id,
        cast(quantity as integer) as quantity,
        cast(unit_price as decimal(12, 2)) as unit_price,
        cast(discount_amount as decimal(12, 2)) as discount_amount,
        cast(updated_at as timestamptz) as updated_at

    from source

),

final as (

    select * from renamed
    {{ latest_version('order_item_id', 'updated_at') }}

)

select * from final
