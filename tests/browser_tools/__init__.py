"""Tooling for the browser tests (not served to users): axe-core and how it is run."""
