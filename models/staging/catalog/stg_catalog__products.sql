{{
    config(
        materialized='incremental',
        unique_key='product_id',
        incremental_strategy='delete+insert',
        on_schema_change='fail',
    )
}}

{#- Latest version per product_id. An incremental build reads only the lake partitions written since
    the last build (var lake_since) and picks the latest version of each key it touches among
    those rows and the one already here, so a late, older version never replaces a newer. -#}
with

source as (

    select * from {{ source('catalog', 'products') }}
    {% if lake_since() is not none -%}
    where {{ partition_since(lake_since()) }}
    {%- endif %}

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

{% if is_incremental() -%}
current_versions as (

    select * from {{ this }}
    where product_id in (select product_id from renamed)

),

candidates as (

    select * from renamed
    union all by name
    select * from current_versions

),
{%- else -%}
candidates as (

    select * from renamed

),
{%- endif %}

final as (

    select * from candidates
    {{ latest_version('product_id', 'snapshot_date') }}

)

select * from final
