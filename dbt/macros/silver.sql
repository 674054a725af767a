{#- The skeleton every Silver model shares: a select of the Bronze table's columns (PII masked as the
    contract says, see pii.sql) keeping, per key, the latest delivery only (_ingested_at, then _batch_id),
    so a re-delivered or corrected event replaces the earlier one. The key is the model's unique_key:
    one column, or a list of columns for a composite primary key (unique_key=['order_id', 'line']).

    Incremental runs read only the Bronze rows stamped after Silver's latest ingested_at minus a
    lookback (var silver_lookback_hours, default 24: a gate stamps a batch when it starts and may commit
    after a later-stamped one), and keep the deliveries newer than the one Silver holds, so delete+insert
    on the key replaces rather than adds. Each model types and renames the columns itself, and must name
    the gate's _ingested_at and _batch_id ingested_at and batch_id: incremental runs read them back. -#}
{% macro silver_latest_deliveries(table_name) -%}
  {%- set unique_key = config.require('unique_key') -%}
  {%- set keys = [unique_key] if unique_key is string else unique_key -%}
with bronze as (
    select
        {{ bronze_columns_masked(table_name) }}
    from {{ source('bronze', table_name) }}
    {% if is_incremental() %}
    where _ingested_at > (
        -- an empty Silver (its Bronze had no batch yet) reads all; not from -infinity, which the
        -- iceberg scan's partition pruning cannot take ("cannot subtract infinite timestamps")
        select coalesce(max(ingested_at) - to_hours({{ var('silver_lookback_hours', 24) }}), to_timestamp(0))
        from {{ this }}
    )
    {% endif %}
),

latest as (
    select *
    from bronze
    qualify row_number() over (partition by {{ keys | join(', ') }} order by _ingested_at desc, _batch_id desc) = 1
)

select latest.*
from latest
{% if is_incremental() %}
-- the lookback re-reads deliveries Silver already holds: keep only those newer than Silver's
where not exists (
    select 1
    from {{ this }} as current
    where {% for key in keys %}current.{{ key }} = latest.{{ key }}
        and {% endfor %}(current.ingested_at > latest._ingested_at
            or (current.ingested_at = latest._ingested_at and current.batch_id >= latest._batch_id))
)
{% endif %}
{%- endmacro %}
