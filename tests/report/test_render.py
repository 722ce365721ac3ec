"""The two Jinja2 environments: HTML escapes everything it prints, plain text nothing."""

from __future__ import annotations

import pytest
from jinja2 import UndefinedError

from etl.report.render import html_environment, text_environment, text_table


def test_html_environment_escapes_explicitly() -> None:
    environment = html_environment()
    assert environment.autoescape is True
    rendered = environment.from_string("<td>{{ team }}</td>").render(team="<script>x</script>")
    assert rendered == "<td>&lt;script&gt;x&lt;/script&gt;</td>"


def test_text_environment_prints_text_as_written() -> None:
    rendered = text_environment().from_string("{{ team }}").render(team="Leaving Care & 18+")
    assert rendered == "Leaving Care & 18+"


@pytest.mark.parametrize("environment", [html_environment, text_environment])
def test_a_misspelt_field_is_an_error_not_a_blank(environment: object) -> None:
    with pytest.raises(UndefinedError):
        environment().from_string("{{ pack.vacancy }}").render(pack={})  # type: ignore[operator]


def test_text_tables_align_figures_right() -> None:
    table = text_table(["Team", "FTE"], [["North", "1.5"], ["South – East", "12.0"]], [False, True])
    assert table.splitlines() == [
        "Team           FTE",
        "------------  ----",
        "North          1.5",
        "South – East  12.0",
    ]
