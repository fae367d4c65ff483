"""The warehouse: the dbt build, the quality gate, the publish, the docs."""
