with

source as (

    select * from {{ source('shop', 'customers') }}

),

renamed as (

    select
        cast(customer_id as bigint) as customer_id,
        first_name,
        last_name,
        email,
        city,
        country,
        segment as customer_segment,
        cast(created_at as timestamptz) as created_at,
        cast(updated_at as timestamptz) as updated_at

    from source

),

final as (

    select * from renamed
    {{ latest_version('customer_id', 'updated_at') }}

)

select * from final
