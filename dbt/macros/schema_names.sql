{#- Models land in the schema they name (silver, gold), not "<target schema>_silver": the same names
    as the Iceberg namespaces. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
  {{ (custom_schema_name or target.schema) | trim }}
{%- endmacro %}
