"""Single sign-on with OpenID Connect (django-allauth's `openid_connect` provider).

- `rules`: which provider an email signs in through, which identities a provider may sign in,
  who may no longer use a password, what a session signed in through a provider may see;
- `discovery`: the provider's discovery document, fetched and checked when a connection is saved;
- `provider`: allauth's provider and adapter, stricter (nonce, pinned issuer, signature always
  checked, ID token required);
- `adapter`: the portal's allauth social-account adapter (the sign-in itself, refusals);
- `services`: every write (connections, enforcement, sign-in with just-in-time membership,
  break-glass), each audited.

docs/sso.md describes it for the account team and customers.
"""
