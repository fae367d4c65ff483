with

products as (

    select * from {{ ref('stg_catalog__products') }}

),

described as (

    select
        {{ surrogate_key(['product_id']) }} as product_sk,
        product_id,
        product_name,
        category,
        price,
        case
            when price < 25 then 'Budget'
            when price < 100 then 'Mid-range'
            else 'Premium'
        end as price_tier,
        rating_rate,
        rating_count,
        case
            when rating_rate >= 4.5 then 'Excellent'
            when rating_rate >= 4.0 then 'Good'
            when rating_rate >= 3.0 then 'Average'
            else 'Poor'
        end as rating_category,
        stock_quantity,
        image_url

    from products

),

unknown_member as (

    select
        '-1' as product_sk,
        -1 as product_id,
        'Unknown product' as product_name,
        'unknown' as category,
        null::decimal(18, 2) as price,
        'Unknown' as price_tier,
        null::decimal(3, 1) as rating_rate,
        null::integer as rating_count,
        'Unknown' as rating_category,
        null::integer as stock_quantity,
        null as image_url

),

final as (

    select * from described
    union all
    select * from unknown_member

)

select * from final
