"""A hub ``Visit`` as a visitor system's record: the field map's templates rendered with
the visit's values, the static fields, and the idempotency key.

The placeholders a field map may use are exactly the fields of :class:`hub.core.model.Visit`
(``entry_id``, ``community_id``, ``gate_id``, ``rider_ref``, ``masked_name``,
``masked_phone``, ``platform``, ``started_at``, ``ends_at``): a record can only carry what
the visit carries, and the rider's name and phone arrive masked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from hub.core.model import Visit
from last100_visitor_http.templates import FieldMap

#: A visit with a value of every field, to check a field map's templates against when a
#: connection is saved (the values show each placeholder's type).
SAMPLE_VISIT = Visit(
    entry_id="0f8fad5b-d9cb-469f-a165-70867728950e",
    community_id="sunny-garden",
    gate_id="north",
    rider_ref="R1001",
    masked_name="王*",
    masked_phone="138****5678",
    platform="meituan",
    started_at=datetime(2026, 1, 5, 4, 0, tzinfo=UTC),
    ends_at=datetime(2026, 1, 5, 4, 25, tzinfo=UTC),
)


def visit_values(visit: Visit) -> dict[str, Any]:
    """A visit's fields by name: the values its placeholders stand for."""
    return {f.name: getattr(visit, f.name) for f in dataclasses.fields(visit)}


#: The placeholders a field map may use.
PLACEHOLDERS = tuple(visit_values(SAMPLE_VISIT))


def compile_field_map(sources: Mapping[str, str]) -> FieldMap:
    """A field map's templates, checked against :data:`SAMPLE_VISIT`.

    :raises last100_visitor_http.templates.FieldMapError: naming each target field whose
        template uses an unknown placeholder or a format that does not fit.
    """
    return FieldMap.compile(sources, visit_values(SAMPLE_VISIT))


@dataclass(frozen=True)
class RecordLayout:
    """How one connection writes a visit into its system's record.

    :ivar field_map: the compiled field map.
    :ivar static_fields: constant fields (a community code, a visitor type).
    :ivar idempotency_field: the body field that carries the visit's ``entry_id``;
        empty: the id goes in the ``Idempotency-Key`` header only.
    :ivar timezone: the zone times are written in.
    """

    field_map: FieldMap
    static_fields: Mapping[str, Any]
    idempotency_field: str
    timezone: ZoneInfo

    def record(self, visit: Visit) -> dict[str, Any]:
        """The body for ``visit``. The settings schema keeps the three sources of fields
        apart, so none overwrites another."""
        record = {**self.static_fields, **self.field_map.render(visit_values(visit), self.timezone)}
        if self.idempotency_field:
            record[self.idempotency_field] = visit.entry_id
        return record
