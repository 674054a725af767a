{#- Generic tests for the contract quality rules dbt does not ship: min, max and regex.
    Each returns the offending rows, like dbt's own tests. -#}
{% test meshgate_min(model, column_name, value) %}
select {{ column_name }} from {{ model }} where {{ column_name }} < {{ value }}
{% endtest %}

{% test meshgate_max(model, column_name, value) %}
select {{ column_name }} from {{ model }} where {{ column_name }} > {{ value }}
{% endtest %}

{% test meshgate_regex(model, column_name, pattern) %}
select {{ column_name }} from {{ model }}
where {{ column_name }} is not null and not regexp_matches({{ column_name }}, '{{ pattern | replace("'", "''") }}')
{% endtest %}

{% test meshgate_unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as duplicates
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
