{#- on-run-start: a Bronze source whose table does not exist yet (a contract added before its first
    batch) gets an empty view of its columns, typed by the generated sources' data_type, so its Silver
    and Gold models and its tests build empty instead of failing the whole project. The meshgate plugin
    has already pointed the view of every table the catalog has at it (and dropped the others), so
    "if not exists" leaves those alone. Rendered as the hook's SQL: dbt runs it outside a transaction. -#}
{% macro meshgate_empty_bronze() -%}
  {%- if execute -%}
    {%- for source in graph.sources.values() if source.source_name == 'bronze' -%}
      {%- set columns = [] -%}
      {%- for column in source.columns.values() -%}
        {%- if not column.data_type -%}
          {%- do exceptions.raise_compiler_error(
                'bronze source ' ~ source.identifier ~ ': column ' ~ column.name ~ ' has no data_type,'
                ~ ' needed to build it empty before its first batch: regenerate models/bronze/sources.yml'
                ~ ' (meshgate dbt-sources)') -%}
        {%- endif -%}
        {%- do columns.append('cast(null as ' ~ column.data_type ~ ') as ' ~ adapter.quote(column.name)) -%}
      {%- endfor %}
create schema if not exists {{ source.schema }};
create view if not exists {{ source.schema }}.{{ adapter.quote(source.identifier) }} as
select {{ columns | join(', ') }} where false;
    {%- endfor -%}
  {%- endif -%}
{%- endmacro %}
