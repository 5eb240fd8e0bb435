"""The HTML page: one Jinja template (``nowcast/templates/report.html.j2``) filled with the
report's texts, tables and charts; charts are embedded as PNG data URIs and the CSS is inline,
so the page opens offline with no other file."""

from __future__ import annotations

from typing import Any

import jinja2


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("nowcast", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,  # a missing value is an error, not an empty cell
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_template(name: str, **context: Any) -> str:
    """The page of template ``name`` for ``context`` (every name it uses must be given)."""
    return _environment().get_template(name).render(**context)


def render_html(**context: Any) -> str:
    """The report page for ``context`` (every name the template uses must be given)."""
    return render_template("report.html.j2", **context)
