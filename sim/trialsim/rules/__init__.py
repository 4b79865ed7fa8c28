"""Decision rules: each rule kind behind one protocol, compiled to a boundary table."""
