with

source as (

    select * from {{ source('catalog', 'products') }}

),

renamed as (

    select
        cast(product_id as bigint) as product_id,
        title as product_name,
        description as product_description,
        category,
        cast(price as decimal(12, 2)) as price,
        cast(rating_rate as decimal(3, 1)) as rating_rate,
        cast(rating_count as integer) as rating_count,
        cast(stock_quantity as integer) as stock_quantity,
        image_url,
        cast(updated_at as timestamptz) as updated_at,
        cast(snapshot_date as date) as snapshot_date

    from source

),

final as (

    select * from renamed
    {{ latest_version('product_id', 'snapshot_date') }}

)

select * from final
