{#- checkout.CheckoutCompleted, one row per event: deduplicated (latest delivery wins), PII masked,
    named for analysts. Incremental on the gate's _ingested_at: a run reads the Bronze rows stamped
    after Silver's latest minus a lookback (var silver_lookback_hours, default 24: a gate stamps a
    batch when it starts and may commit after a later-stamped one), keeps the deliveries newer than
    the one Silver holds, and delete+insert on event_id replaces rather than adds. -#}
{{ config(alias='checkout__checkout_completed', unique_key='event_id') }}

with bronze as (
    select
        {{ bronze_columns_masked('checkout__checkout_completed') }}
    from {{ source('bronze', 'checkout__checkout_completed') }}
    {% if is_incremental() %}
    where _ingested_at > (
        select coalesce(max(ingested_at), '-infinity'::timestamptz)
            - to_hours({{ var('silver_lookback_hours', 24) }})
        from {{ this }}
    )
    {% endif %}
),

latest as (
    select *
    from bronze
    qualify row_number() over (partition by event_id order by _ingested_at desc, _batch_id desc) = 1
),

newer as (
    select latest.*
    from latest
    {% if is_incremental() %}
    -- the lookback re-reads deliveries Silver already holds: keep only those newer than Silver's
    where not exists (
        select 1
        from {{ this }} as current
        where current.event_id = latest.event_id
            and (current.ingested_at > latest._ingested_at
                or (current.ingested_at = latest._ingested_at and current.batch_id >= latest._batch_id))
    )
    {% endif %}
)

select
    cast(event_id as varchar) as event_id,
    cast(order_id as varchar) as order_id,
    cast(user_id as varchar) as user_id,
    cast(email as varchar) as email_hash,
    cast(amount as double) as amount,
    cast(currency as varchar) as currency,
    cast(completed_at as timestamptz) as completed_at,
    cast(completed_at as date) as completed_date,
    items,
    cast(_batch_id as varchar) as batch_id,
    cast(_ingested_at as timestamptz) as ingested_at,
    cast(_schema_version as integer) as schema_version
from newer
