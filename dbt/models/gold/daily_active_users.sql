{#- Distinct users active on each UTC day, active meaning they signed up or checked out that day. -#}
with activity as (
    select user_id, completed_date as activity_date, 'checkout' as kind
    from {{ ref('silver_checkout_completed') }}
    union all
    select user_id, signup_date as activity_date, 'signup' as kind
    from {{ ref('silver_user_signed_up') }}
)

select
    activity_date,
    count(distinct user_id) as active_users,
    count(distinct user_id) filter (where kind = 'checkout') as checkout_users,
    count(distinct user_id) filter (where kind = 'signup') as signup_users
from activity
group by activity_date
order by activity_date
