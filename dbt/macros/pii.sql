{#- The Bronze columns of a contract's table, PII masked as the contract says.

    Driven by the generated sources (models/bronze/sources.yml): a column whose meta has pii: true is
    replaced by meshgate_pii_hash(column), the gate's own keyed hash, unless the contract masks at Bronze
    (the table's meta mask_pii_at: bronze), where the gate already hashed it. -#}
{% macro bronze_columns_masked(table_name) -%}
  {%- if not execute -%}
    *
  {%- else -%}
    {%- set source = graph.sources['source.' ~ project_name ~ '.bronze.' ~ table_name] -%}
    {%- set masked_at_bronze = source.meta.get('mask_pii_at') == 'bronze' -%}
    {%- set columns = [] -%}
    {%- for column in source.columns.values() -%}
      {%- if column.meta.get('pii') and not masked_at_bronze -%}
        {%- do columns.append(meshgate_pii_hash(column.name) ~ ' as ' ~ adapter.quote(column.name)) -%}
      {%- else -%}
        {%- do columns.append(adapter.quote(column.name)) -%}
      {%- endif -%}
    {%- endfor -%}
    {{ columns | join(',\n    ') }}
  {%- endif -%}
{%- endmacro %}

{% macro meshgate_pii_hash(column_name) -%}
  meshgate_pii_hash(cast({{ adapter.quote(column_name) }} as varchar))
{%- endmacro %}
