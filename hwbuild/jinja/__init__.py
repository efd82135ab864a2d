"""Templates: the Jinja environment with its line origins, and the filters."""
