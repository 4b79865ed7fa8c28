"""Reading and validating scenario files: YAML source, schema, checks, dotted-key variation."""
