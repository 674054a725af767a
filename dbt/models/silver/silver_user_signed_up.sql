{#- identity.UserSignedUp, one row per event: the latest delivery of each event_id, incremental
    (macros/silver.sql), typed and named for analysts here. This contract masks PII at Bronze, so the
    e-mail arrives hashed and is not hashed again. -#}
{{ config(alias='identity__user_signed_up', unique_key='event_id') }}

with deliveries as (
    {{ silver_latest_deliveries('identity__user_signed_up') }}
)

select
    cast(event_id as varchar) as event_id,
    cast(user_id as varchar) as user_id,
    cast(email as varchar) as email_hash,
    cast(country as varchar) as country,
    cast(plan as varchar) as plan,
    cast(signed_up_at as timestamptz) as signed_up_at,
    cast(signed_up_at as date) as signup_date,
    cast(_batch_id as varchar) as batch_id,
    cast(_ingested_at as timestamptz) as ingested_at,
    cast(_schema_version as integer) as schema_version
from deliveries
