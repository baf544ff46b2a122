from typing import Any

from django import template

from portal.sso import rules

register = template.Library()


@register.simple_tag
def sso_required(user: Any) -> rules.Route | None:
    """The provider `user` must sign in through (their TOTP is its job), or None."""
    if not getattr(user, "is_authenticated", False):
        return None
    return rules.sso_required(user)
