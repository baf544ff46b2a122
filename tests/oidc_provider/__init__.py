"""A small OpenID Connect provider of the tests' own (django-oauth-toolkit), a Django project
apart from the portal: its own settings, SQLite database, users and RS256 key.

tests/sso_servers.py serves it with gunicorn on a free port; tests register client
applications and users through its setup endpoint (`POST /setup/`, guarded by a token of the
fixture's). Some of its users misbehave on purpose (`id_token` overrides: another issuer,
another audience), so the portal's refusals are tested against a real provider.
"""
