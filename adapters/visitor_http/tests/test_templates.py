"""Field-map templates: rendering visits' values, and refusing what a template must not do."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from last100_visitor_http.templates import FieldMap, FieldMapError, Template, TemplateError

SHANGHAI = ZoneInfo("Asia/Shanghai")
VALUES = {
    "masked_name": "王*",
    "platform": "meituan",
    "started_at": datetime(2026, 1, 5, 4, 0, tzinfo=UTC),
}


def render(source: str, tz=SHANGHAI) -> str:
    return Template.compile(source, VALUES).render(VALUES, tz)


def test_a_time_is_written_in_the_given_timezone_with_its_strftime_format() -> None:
    assert render("{started_at:%Y-%m-%d %H:%M:%S}") == "2026-01-05 12:00:00"
    assert render("{started_at:%H:%M}", ZoneInfo("Europe/Berlin")) == "05:00"


def test_a_time_without_a_format_is_iso_8601_with_its_offset() -> None:
    assert render("{started_at}") == "2026-01-05T12:00:00+08:00"


def test_text_and_placeholders_mix_and_double_braces_are_literal() -> None:
    assert render("外卖配送 {platform} {{{masked_name}}}") == "外卖配送 meituan {王*}"


def test_a_text_value_takes_the_format_mini_language() -> None:
    assert render("[{platform:>10}]") == "[   meituan]"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("{rider_name}", "unknown placeholder {rider_name} (known placeholders: masked_name, platform, started_at)"),
        ("{started_at.year}", "use a plain name"),
        ("{masked_name[0]}", "use a plain name"),
        ("{0}", "use a plain name"),
        ("{}", "empty placeholder"),
        ("{masked_name!r}", "conversions are not supported"),
        ("{started_at:{platform}}", "inside a format spec"),
        ("visitor {masked_name", "literal braces"),
        ("visitor }", "literal braces"),
    ],
)
def test_a_template_that_could_read_more_than_it_is_given_is_refused(source: str, words: str) -> None:
    with pytest.raises(TemplateError) as caught:
        Template.compile(source, VALUES)

    assert words in str(caught.value)


def test_a_field_map_names_every_field_whose_template_cannot_be_used() -> None:
    with pytest.raises(FieldMapError) as caught:
        FieldMap.compile(
            {"visitorName": "{masked_name}", "visitorPhone": "{phone}", "visitTime": "{masked_name:%Y}"}, VALUES
        )

    assert set(caught.value.errors) == {"visitorPhone", "visitTime"}
    assert "unknown placeholder {phone}" in caught.value.errors["visitorPhone"]
    assert "Invalid format specifier" in caught.value.errors["visitTime"]


def test_a_field_map_renders_every_field() -> None:
    field_map = FieldMap.compile({"name": "{masked_name}", "day": "{started_at:%d.%m.}", "fixed": "Rider"}, VALUES)

    assert field_map.render(VALUES, SHANGHAI) == {"name": "王*", "day": "05.01.", "fixed": "Rider"}
