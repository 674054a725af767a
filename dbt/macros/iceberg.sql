{#- Post-hook of every Silver and Gold model: hand the committed result to the meshgate dbt-duckdb
    plugin, whose store() overwrites the Iceberg table <schema>.<name> in the meshgate catalog.
    Renders no SQL. -#}
{% macro meshgate_store_iceberg() -%}
  {%- if execute -%}
    {%- do adapter.store_relation('meshgate', this, [], '', 'iceberg', config) -%}
  {%- endif -%}
{%- endmacro %}
