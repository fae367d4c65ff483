with

customer_history as (

    select * from {{ ref('int_customers_historized') }}

),

versions as (

    select
        customer_id,
        first_name,
        last_name,
        first_name || ' ' || last_name as customer_name,
        email,
        city,
        country,
        customer_segment,
        created_at,
        -- the first version is valid from registration, later ones from their update
        case
            when row_number() over (partition by customer_id order by updated_at) = 1
                then least(created_at, updated_at)
            else updated_at
        end as valid_from,
        lead(updated_at) over (partition by customer_id order by updated_at) as valid_to

    from customer_history

),

unknown_member as (

    select
        '-1' as customer_sk,
        -1 as customer_id,
        'Unknown' as first_name,
        'Unknown' as last_name,
        'Unknown' as customer_name,
        null as email,
        null as city,
        null as country,
        'unknown' as customer_segment,
        {{ utc_timestamp('null') }} as created_at,
        {{ utc_timestamp("'1900-01-01 00:00:00'") }} as valid_from,
        {{ utc_timestamp('null') }} as valid_to,
        true as is_current

),

final as (

    select
        {{ surrogate_key(['customer_id', ('valid_from', 'timestamp')]) }} as customer_sk,
        customer_id,
        first_name,
        last_name,
        customer_name,
        email,
        city,
        country,
        customer_segment,
        created_at,
        valid_from,
        valid_to,
        valid_to is null as is_current

    from versions

    union all

    select * from unknown_member

)

select * from final
