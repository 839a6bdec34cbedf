"""The insight routes: each reads one read model for a period and answers as JSON or, with
``?format=csv`` (or ``Accept: text/csv``), as a CSV table."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from insights import selectors
from insights.alignment import alignment
from insights.api import serializers as s
from insights.calibration import calibration
from insights.flow import flow
from insights.investment import investment
from insights.periods import Period, current_cycle, default_period, period_of_days
from okrs.api.rollup import render_rollup
from okrs.models import Cycle
from outcomes.api.base import CompanyScopedViewSet


class CSVRenderer(BaseRenderer):
    """Renders ``{"header": [...], "rows": [[...], ...]}`` as CSV (numbers as plain decimals)."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(data["header"])
        writer.writerows([[_cell(value) for value in row] for row in data["rows"]])
        return out.getvalue().encode("utf-8")


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value.normalize():f}"
    return value


FORMAT = OpenApiParameter("format", str, enum=["json", "csv"], description="`csv` for a table, JSON by default.")
CSV_RESPONSE = {(200, "text/csv"): OpenApiTypes.STR}


def _docs(summary: str, description: str, query: Any, answer: Any) -> Callable[[Any], Any]:
    return extend_schema(
        summary=summary,
        description=description,
        parameters=[query, FORMAT],
        responses={(200, "application/json"): answer, **CSV_RESPONSE},
    )


class InsightViewSet(CompanyScopedViewSet):
    """Read-only answers computed from the company's records, never stored."""

    openapi_tag = "insights"
    queryset = Cycle.objects.all()  # the routes read through the read models, not this
    renderer_classes = [JSONRenderer, CSVRenderer]
    paginated_actions = frozenset()
    filtered_actions = frozenset()
    period_params = frozenset({"cycle", "start", "end", "team", "strategy", "format"})
    extra_query_params: ClassVar[dict[str, frozenset[str]]] = {
        "rollup": frozenset({"cycle", "team", "strategy", "format"}),
        "realisation": period_params,
        "alignment": period_params,
        "flow": frozenset({"cycle", "start", "end", "team", "format"}),
        "investment": period_params,
        "calibration": frozenset({"cycle", "team", "format"}),
        "outcome_debt": frozenset({"team", "format"}),
    }

    def handle_exception(self, exc: Exception) -> Response:
        """Errors are JSON in the one error shape, even when CSV was asked for."""
        self.request.accepted_renderer = JSONRenderer()
        self.request.accepted_media_type = "application/json"
        return super().handle_exception(exc)

    # --- helpers ---------------------------------------------------------------------------
    def query(self, serializer_class: Any) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.query_params, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def period(self, query: dict[str, Any]) -> Period:
        if "cycle" in query:
            cycle = query["cycle"]
            return period_of_days(self.company, cycle.start, cycle.end, cycle)
        if "start" in query:
            return period_of_days(self.company, query["start"], query["end"])
        return default_period(self.company, timezone.localdate(timezone=self._zone()))

    def cycle(self, query: dict[str, Any]) -> Cycle:
        """The cycle asked for, else the current one; a company without cycles has nothing to show."""
        cycle = query.get("cycle") or current_cycle(self.company, timezone.localdate(timezone=self._zone()))
        if cycle is None:
            raise NotFound("This company has no cycle yet.")
        return cycle

    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.company.timezone)

    def answer(
        self, name: str, document: Callable[[], Any], table: Callable[[], tuple[list[str], list[list[object]]]]
    ) -> Response:
        """The JSON document, or the CSV table when asked for: only the one answered is built."""
        if self.request.accepted_renderer.format == "csv":
            header, rows = table()
            filename = f"{self.company.slug}-{name}.csv"
            return Response(
                {"header": header, "rows": rows},
                headers={"Content-Disposition": f'attachment; filename="{filename}"'},
            )
        return Response(document())

    @staticmethod
    def _pk(row: Any) -> int | None:
        return None if row is None else row.pk

    # --- routes ----------------------------------------------------------------------------
    @_docs(
        "Cycle roll-up with delivery",
        "The OKR tree of a cycle (the current one by default) as in the cycle roll-up, and under each key result "
        "the epics serving it with status, owner, review phase and verdict; per objective, `delivery` counts the "
        "delivered epics beneath it and the share whose recorded result achieved the anticipated outcome. "
        "`team` keeps that team's objectives, `strategy` those serving the strategy (with their parents).",
        s.CycleQuerySerializer,
        s.DeliveryRollupSerializer,
    )
    def rollup(self, request: Request, company_slug: str) -> Response:
        query = self.query(s.CycleQuerySerializer)
        delivery = selectors.cycle_delivery(self.cycle(query))
        team, strategy = query.get("team"), query.get("strategy")
        keep = delivery.kept(team_id=self._pk(team), strategy_id=self._pk(strategy))
        return self.answer(
            "rollup",
            lambda: render_delivery(delivery, keep, team=team, strategy=strategy),
            lambda: delivery.table(keep),
        )

    @_docs(
        "Realisation of delivered epics",
        "Of the epics delivered in the period (a cycle, start and end, or the current cycle): how many have a "
        "recorded result, and how those came out (the override wins), in total, by team, owner, strategy and month.",
        s.PeriodQuerySerializer,
        s.RealisationSerializer,
    )
    def realisation(self, request: Request, company_slug: str) -> Response:
        query = self.query(s.PeriodQuerySerializer)
        period = self.period(query)
        result = selectors.realisation(
            self.company,
            period.start,
            period.end,
            team_id=self._pk(query.get("team")),
            strategy_id=self._pk(query.get("strategy")),
        )
        return self.answer(
            "realisation", lambda: s.RealisationSerializer({"period": period, **vars(result)}).data, result.table
        )

    @_docs(
        "Outcome debt",
        "Reviews due and overdue now with the age of the oldest, per owner and team, and key results past their "
        "check-in date, worst first.",
        s.TeamQuerySerializer,
        s.OutcomeDebtSerializer,
    )
    def outcome_debt(self, request: Request, company_slug: str) -> Response:
        query = self.query(s.TeamQuerySerializer)
        now = timezone.now()
        result = selectors.outcome_debt(self.company, now, team_id=self._pk(query.get("team")))
        return self.answer(
            "outcome-debt", lambda: s.OutcomeDebtSerializer({"at": now, **vars(result)}).data, result.table
        )

    def _filters(self, query: dict[str, Any]) -> dict[str, Any]:
        return {"team_id": self._pk(query.get("team")), "strategy_id": self._pk(query.get("strategy"))}

    @_docs(
        "Alignment",
        "Of the epics active in the period: the share, and the share of their cost per currency, that serve a key "
        "result; work aligned to nothing; objectives and key results of the period's cycles with no work behind "
        "them; SWOT threats no active strategy addresses.",
        s.PeriodQuerySerializer,
        s.AlignmentSerializer,
    )
    def alignment(self, request: Request, company_slug: str) -> Response:
        query = self.query(s.PeriodQuerySerializer)
        period = self.period(query)
        result = alignment(self.company, period.start, period.end, **self._filters(query))
        return self.answer(
            "alignment",
            lambda: s.AlignmentSerializer(_with(result, period=period, aligned_share=result.aligned_share)).data,
            result.table,
        )

    @_docs(
        "Flow",
        "From the status history of the epics: flow velocity (done per ISO week), flow time (start to done; p50, "
        "p85), flow load (in progress now and at each week's end), flow efficiency (where status maps mark wait "
        "states) and flow distribution by work type.",
        s.FlowQuerySerializer,
        s.FlowSerializer,
    )
    def flow(self, request: Request, company_slug: str) -> Response:
        query = self.query(s.FlowQuerySerializer)
        period = self.period(query)
        result = flow(self.company, period.start, period.end, team_id=self._pk(query.get("team")))
        return self.answer("flow", lambda: s.FlowSerializer(_with(result, period=period)).data, result.table)

    @_docs(
        "Investment and return",
        "Cost of the epics delivered in the period (the estimate, or the team's monthly cost over the epic's flow "
        "time) per team, strategy and in total, per currency, split by the verdict of their outcomes.",
        s.PeriodQuerySerializer,
        s.InvestmentReturnSerializer,
    )
    def investment(self, request: Request, company_slug: str) -> Response:
        query = self.query(s.PeriodQuerySerializer)
        period = self.period(query)
        result = investment(self.company, period.start, period.end, **self._filters(query))
        return self.answer("investment", lambda: s.investment_data(_with(result, period=period)), result.table)

    @_docs(
        "Confidence calibration",
        "For each key result of the cycle (the current one by default): the confidence stated by mid-cycle against "
        "the progress reached at the end, as a Brier score and a bias, per owner, team and in total.",
        s.CalibrationQuerySerializer,
        s.CalibrationSerializer,
    )
    def calibration(self, request: Request, company_slug: str) -> Response:
        query = self.query(s.CalibrationQuerySerializer)
        result = calibration(self.company, self.cycle(query), team_id=self._pk(query.get("team")))
        return self.answer("calibration", lambda: s.calibration_data(result), result.table)


def _with(result: Any, **extra: Any) -> dict[str, Any]:
    """The read model's fields and a few more, for a serializer to read."""
    return {**vars(result), **extra}


# --- the roll-up document ----------------------------------------------------------------------
def render_delivery(
    delivery: selectors.Delivery, keep: set[int], *, team: Any = None, strategy: Any = None
) -> dict[str, Any]:
    """The roll-up document of the ``keep`` objectives, with the epics under each key result and the
    delivery tally per objective."""
    document = render_rollup(delivery.tree)

    def decorate(node: dict[str, Any]) -> dict[str, Any]:
        node["delivery"] = s.tally_data(delivery.realisation[node["id"]])
        for kr in node["key_results"]:
            kr["epics"] = [s.epic_line_data(line) for line in delivery.epics.get(kr["id"], [])]
        node["children"] = [decorate(child) for child in node["children"] if child["id"] in keep]
        return node

    document["objectives"] = [decorate(node) for node in document["objectives"] if node["id"] in keep]
    document["team"] = None if team is None else team.pk
    document["strategy"] = None if strategy is None else strategy.pk
    return document
