{#- Per sign-up day: how many new users completed a checkout within 7 days of signing up. -#}
with signups as (
    select user_id, min(signed_up_at) as signed_up_at
    from {{ ref('silver_user_signed_up') }}
    group by user_id
),

converted as (
    select distinct s.user_id
    from signups as s
    join {{ ref('silver_checkout_completed') }} as c
        on c.user_id = s.user_id
        and c.completed_at >= s.signed_up_at
        and c.completed_at < s.signed_up_at + interval 7 day
)

select
    cast(s.signed_up_at as date) as signup_date,
    count(*) as signups,
    count(c.user_id) as converted_within_7d,
    round(count(c.user_id) / count(*), 4) as conversion_rate
from signups as s
left join converted as c on c.user_id = s.user_id
group by cast(s.signed_up_at as date)
order by signup_date
