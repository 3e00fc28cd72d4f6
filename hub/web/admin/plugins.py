"""The console's plugins page: what is installed (version, kinds, capabilities, where
it came from, which hooks it implements) and what failed to load. Operators and
managers: it holds no community's data."""

from __future__ import annotations

from flask import render_template

from hub.web.admin import bp
from hub.web.admin.auth import login_required
from hub.web.context import runtime_of


@bp.get("/plugins")
@login_required("operator", "manager")
def plugins() -> str:
    hub = runtime_of().hub
    return render_template("admin/plugins.html", plugins=hub.plugins(), failures=hub.load_failures)
