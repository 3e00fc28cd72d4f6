"""Showing personal data whole: masked on every console page, revealed only to an
operator who gives a reason, for one object at a time, and audited each time
(``personal_data.revealed``).

A page offers the reveal with the ``admin/_reveal.html`` form (a POST carrying the
console's CSRF token and the reason) and masks values with the template filters
registered here (``mask_phone``, ``mask_name``, ``mask_ref``, ``mask_address``,
``mask_contact``, from :mod:`hub.core.masking`).
"""

from __future__ import annotations

from flask import request

from hub.core import masking
from hub.web.admin import bp

#: The longest reason kept in the audit log.
MAX_REASON = 200

for _name in ("mask_phone", "mask_name", "mask_ref", "mask_address", "mask_contact"):
    bp.add_app_template_filter(getattr(masking, _name), _name)


def reveal_reason() -> str | None:
    """The reason the form gave for a reveal, or ``None`` when it gave none (or too
    long a one): the page then shows the form again with its message, revealing nothing."""
    reason = " ".join(request.form.get("reason", "").split())
    if not reason or len(reason) > MAX_REASON:
        return None
    return reason
