"""The web pages: thin views over the selectors and services the API uses too."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views import View

from epics import services as epic_services
from epics.choices import Verdict, WorkType
from epics.selectors import epic_trace
from insights import selectors as insight_selectors
from insights.alignment import alignment
from insights.flow import flow
from insights.periods import current_cycle, default_period, period_of_days
from okrs import services as okr_services
from okrs.choices import CheckInSource
from okrs.rollup import ObjectiveFacts, cycle_progress, expected_progress
from outcomes.models import Team
from outcomes.selectors import my_memberships
from web import forms
from web import selectors as pages
from web.base import CompanyPage


def _or_404(read: Any, *args: Any) -> Any:
    try:
        return read(*args)
    except (ObjectDoesNotExist, ValueError):
        raise Http404("Not found.") from None


def _page_or_partial(request: HttpRequest, page: str, partial: str, context: dict[str, Any]) -> HttpResponse:
    """The partial for an htmx swap; the whole page otherwise, and for an htmx history restore after a cache
    miss, which swaps the response into <body>. The response varies on both headers (caches keep them apart)."""
    htmx: Any = request.htmx  # type: ignore[attr-defined]
    response = render(request, partial if htmx and not htmx.history_restore_request else page, context)
    patch_vary_headers(response, ("HX-Request", "HX-History-Restore-Request"))
    return response


def _metric_errors(formset: Any, error: ValidationError) -> None:
    """Move a service's ``metrics.<n>.<field>`` errors beside that metric's field (n counts filled rows)."""
    if not hasattr(error, "error_dict"):
        return
    filled = [form for form in formset.forms if form.cleaned_data]
    for name in list(error.error_dict):
        parts = name.split(".")
        if len(parts) == 3 and parts[0] == "metrics" and parts[1].isdigit() and int(parts[1]) < len(filled):
            target = filled[int(parts[1])]
            if parts[2] in target.fields:
                target.add_error(parts[2], error.error_dict.pop(name))


def _field_errors(form: Any, error: ValidationError) -> None:
    """Put a service's validation errors on the form: on the field it names, else on the whole form."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            form.add_error(name if name in form.fields else None, [f"{name}: {e.message}" for e in errors])
    else:
        form.add_error(None, error.messages)


class Home(LoginRequiredMixin, View):
    """The companies the visitor belongs to; with one, straight to its roll-up."""

    def get(self, request: HttpRequest) -> HttpResponse:
        memberships = my_memberships(user=request.user, api_key=None)  # type: ignore[arg-type]
        if len(memberships) == 1:
            company: Any = memberships[0]["company"]
            return HttpResponseRedirect(reverse("web:rollup", kwargs={"company_slug": company.slug}))
        return render(request, "web/home.html", {"memberships": memberships})


class Rollup(CompanyPage):
    section = "rollup"

    def get(self, request: HttpRequest, company_slug: str) -> HttpResponse:
        cycles = pages.cycles_of(self.company)
        cycle = _chosen(request, "cycle", cycles) or current_cycle(self.company, self.today())
        teams = list(Team.objects.for_company(self.company).order_by("name"))
        team = _chosen(request, "team", teams)
        context = self.context(cycles=cycles, cycle=cycle, teams=teams, team=team, nodes=[], delivery=None)
        if cycle is not None:
            delivery = insight_selectors.cycle_delivery(cycle)
            context.update(delivery=delivery, nodes=pages.rollup_nodes(delivery, team.pk if team else None))
            context["progress"] = _cycle_progress(delivery)
        return _page_or_partial(request, "web/rollup.html", "web/partials/rollup_tree.html", context)


def _chosen(request: HttpRequest, name: str, rows: list[Any]) -> Any:
    """The row of the company's ``rows`` named by the ``name`` filter; anything else means no choice."""
    wanted = request.GET.get(name, "")
    return next((row for row in rows if str(row.pk) == wanted), None) if wanted else None


def _cycle_progress(delivery: insight_selectors.Delivery) -> Any:
    tree = delivery.tree
    facts = [ObjectiveFacts(o.pk, o.parent_id, o.cycle_id, o.weight) for o in tree.top_level()]
    cycle = tree.cycle
    return {
        "progress": cycle_progress(tree.rollup, facts),
        "expected": expected_progress(start=cycle.start, end=cycle.end, at=tree.at, tz=cycle.company.timezone),
    }


class ObjectivePage(CompanyPage):
    section = "rollup"

    def get(self, request: HttpRequest, company_slug: str, pk: int) -> HttpResponse:
        objective = _or_404(pages.objective_page, self.company, pk)
        key_results = pages.key_results_of(objective)
        ids = [kr.pk for kr in key_results]
        history = pages.check_ins_by_key_result(ids)
        serving = pages.epics_serving(ids)
        rows = [
            {
                "key_result": kr,
                "epics": serving.get(kr.pk, []),
                "chart_id": f"chart-kr-{kr.pk}",
                "chart": _check_in_chart(kr, history.get(kr.pk, [])),
                "chart_label": f"Check-in history of {kr.title}",
            }
            for kr in key_results
        ]
        return render(request, "web/objective.html", self.context(objective=objective, rows=rows))


def _check_in_chart(key_result: Any, check_ins: list[Any]) -> dict[str, Any]:
    return {
        "kind": "line",
        "label": key_result.title,
        "labels": [f"{timezone.localtime(c.as_of):%Y-%m-%d}" for c in check_ins],
        "values": [float(c.value) for c in check_ins],
        "target": float(key_result.target),
        "baseline": float(key_result.baseline),
    }


class KeyResultPage(CompanyPage):
    section = "rollup"

    def get(self, request: HttpRequest, company_slug: str, pk: int) -> HttpResponse:
        key_result = _or_404(pages.key_result_page, self.company, pk)
        return self._render(request, key_result, forms.CheckInForm())

    def post(self, request: HttpRequest, company_slug: str, pk: int) -> HttpResponse:
        key_result = _or_404(pages.key_result_page, self.company, pk)
        self.require(self.access.role != "viewer", "Viewers read; they do not check in.")
        if key_result.owner_id != self.person.pk:
            okr_services.require_objective_writer(
                objective=key_result.objective, user=self.person, role=self.access.role
            )
        form = forms.CheckInForm(request.POST)
        if form.is_valid():
            try:
                okr_services.check_in_record(
                    key_result=key_result, source=CheckInSource.MANUAL, author=self.person, **form.cleaned_data
                )
            except ValidationError as error:
                _field_errors(form, error)
            else:
                messages.success(request, "Check-in recorded.")
                return HttpResponseRedirect(request.path)
        return self._render(request, key_result, form, status=400)

    def _render(self, request: HttpRequest, key_result: Any, form: Any, status: int = 200) -> HttpResponse:
        history = pages.check_ins_by_key_result([key_result.pk]).get(key_result.pk, [])
        context = self.context(
            key_result=key_result,
            check_ins=list(reversed(history)),
            chart=_check_in_chart(key_result, history),
            epics=pages.epics_serving([key_result.pk]).get(key_result.pk, []),
            form=form,
            may_check_in=self.access.role != "viewer",
        )
        return render(request, "web/key_result.html", context, status=status)


class EpicPage(CompanyPage):
    section = "my-work"

    def get(self, request: HttpRequest, company_slug: str, pk: int) -> HttpResponse:
        epic = _or_404(pages.epic_page, self.company, pk)
        now = timezone.now()
        context = self.context(
            epic=epic,
            outcome=getattr(epic, "anticipated_outcome", None),
            metrics=pages.metrics_of(epic),
            review=pages.latest_review(epic, now),
            history=pages.status_history(epic),
            trace=epic_trace(epic),
            may_write=epic_services.may_write_epic(epic=epic, user=self.person, role=self.access.role),
            may_record=epic_services.may_close_the_loop(epic=epic, user=self.person, role=self.access.role),
        )
        return render(request, "web/epic.html", context)


class EpicOutcomeForm(CompanyPage):
    """Write or change an epic's anticipated outcome: the four questions and the success metrics."""

    section = "my-work"

    def _epic(self, pk: int) -> Any:
        epic = _or_404(pages.epic_page, self.company, pk)
        allowed = epic_services.may_write_epic(epic=epic, user=self.person, role=self.access.role)
        self.require(allowed, "Members write the epics they own or review.")
        return epic

    def get(self, request: HttpRequest, company_slug: str, pk: int) -> HttpResponse:
        epic = self._epic(pk)
        outcome = getattr(epic, "anticipated_outcome", None)
        initial = {} if outcome is None else {f: getattr(outcome, f) for f in forms.AnticipatedOutcomeForm.base_fields}
        metrics = [{f: getattr(m, f) for f in forms.MetricForm.base_fields} for m in pages.metrics_of(epic)]
        form = forms.AnticipatedOutcomeForm(initial=initial)
        formset = forms.MetricFormSet(initial=metrics or None, prefix="metrics")
        return self._render(request, epic, form, formset)

    def post(self, request: HttpRequest, company_slug: str, pk: int) -> HttpResponse:
        epic = self._epic(pk)
        form = forms.AnticipatedOutcomeForm(request.POST)
        formset = forms.MetricFormSet(request.POST, prefix="metrics")
        if form.is_valid() and formset.is_valid():
            try:
                epic_services.anticipated_outcome_set(
                    epic=epic, metrics=forms.metric_rows(formset), **form.cleaned_data
                )
            except ValidationError as error:
                _metric_errors(formset, error)
                _field_errors(form, error)
            else:
                messages.success(request, "Anticipated outcome saved.")
                return HttpResponseRedirect(reverse("web:epic", kwargs={"company_slug": company_slug, "pk": pk}))
        return self._render(request, epic, form, formset, status=400)

    def _render(self, request: HttpRequest, epic: Any, form: Any, formset: Any, status: int = 200) -> HttpResponse:
        context = self.context(epic=epic, form=form, formset=formset)
        return render(request, "web/epic_outcome.html", context, status=status)


class EpicResultForm(CompanyPage):
    """Record what a delivered epic achieved, metric by metric."""

    section = "my-work"

    def _epic(self, pk: int) -> Any:
        epic = _or_404(pages.epic_page, self.company, pk)
        allowed = epic_services.may_close_the_loop(epic=epic, user=self.person, role=self.access.role)
        self.require(allowed, "The epic's owner or reviewer, or an owner or admin, records its results.")
        return epic

    def get(self, request: HttpRequest, company_slug: str, pk: int) -> HttpResponse:
        epic = self._epic(pk)
        return self._render(request, epic, forms.ResultForm(metrics=pages.metrics_of(epic)))

    def post(self, request: HttpRequest, company_slug: str, pk: int) -> HttpResponse:
        epic = self._epic(pk)
        form = forms.ResultForm(request.POST, metrics=pages.metrics_of(epic))
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items() if not k.startswith(("value_", "evidence_"))}
            try:
                epic_services.result_record(epic=epic, metrics=form.metric_values(), recorded_by=self.person, **data)
            except ValidationError as error:
                _field_errors(form, error)
            else:
                messages.success(request, "Result recorded.")
                return HttpResponseRedirect(reverse("web:epic", kwargs={"company_slug": company_slug, "pk": pk}))
        return self._render(request, epic, form, status=400)

    def _render(self, request: HttpRequest, epic: Any, form: Any, status: int = 200) -> HttpResponse:
        return render(request, "web/epic_result.html", self.context(epic=epic, form=form), status=status)


class MyWorkPage(CompanyPage):
    section = "my-work"

    def get(self, request: HttpRequest, company_slug: str) -> HttpResponse:
        work = pages.my_work(self.company, self.person, timezone.now())
        return render(request, "web/my_work.html", self.context(work=work))


class InsightsPage(CompanyPage):
    """Realisation over time, outcome debt by team, flow distribution and alignment, with a team filter."""

    section = "insights"

    def get(self, request: HttpRequest, company_slug: str) -> HttpResponse:
        teams = list(Team.objects.for_company(self.company).order_by("name"))
        cycles = pages.cycles_of(self.company)
        team, cycle = _chosen(request, "team", teams), _chosen(request, "cycle", cycles)
        period = (
            period_of_days(self.company, cycle.start, cycle.end, cycle)
            if cycle
            else default_period(self.company, self.today())
        )
        team_id = team.pk if team else None
        realised = insight_selectors.realisation(self.company, period.start, period.end, team_id=team_id)
        debt = insight_selectors.outcome_debt(self.company, timezone.now(), team_id=team_id)
        aligned = alignment(self.company, period.start, period.end, team_id=team_id)
        moved = flow(self.company, period.start, period.end, team_id=team_id)
        charts = {
            "realisation": _verdict_chart(realised.by_month),
            "velocity": {
                "kind": "bar",
                "labels": [f"{week.start:%Y-%m-%d}" for week in moved.weeks],
                "series": [
                    {"label": label, "values": [week.done.counts[kind] for week in moved.weeks], "colour": kind}
                    for kind, label in WorkType.choices
                ],
                "stacked": True,
            },
            "distribution": {
                "kind": "doughnut",
                "labels": [label for _, label in WorkType.choices],
                "keys": list(WorkType.values),
                "values": [moved.done.counts[kind] for kind in WorkType.values],
            },
            "alignment": {
                "kind": "doughnut",
                "labels": ["Serving a key result", "Aligned to nothing"],
                "keys": ["achieved", "missed"],
                "values": [aligned.aligned, aligned.epics - aligned.aligned],
            },
            "debt": {
                "kind": "bar",
                "labels": [d.name for d in debt.by_team],
                "series": [
                    {"label": "Due", "values": [d.due - d.overdue for d in debt.by_team], "colour": "due"},
                    {"label": "Overdue", "values": [d.overdue for d in debt.by_team], "colour": "overdue"},
                ],
                "stacked": True,
            },
        }
        context = self.context(
            teams=teams,
            team=team,
            cycles=cycles,
            cycle=period.cycle,
            period=period,
            realisation=realised,
            debt=debt,
            alignment=aligned,
            flow=moved,
            charts=charts,
        )
        return _page_or_partial(request, "web/insights.html", "web/partials/insights_body.html", context)


def _verdict_chart(tallies: list[insight_selectors.Tally]) -> dict[str, Any]:
    series = [
        {"label": label, "values": [t.verdicts[value] for t in tallies], "colour": value}
        for value, label in ((v.value, v.label.split(":")[0]) for v in Verdict)
    ]
    series.append({"label": "Not recorded", "values": [t.pending for t in tallies], "colour": "pending"})
    return {"kind": "bar", "labels": [t.key for t in tallies], "series": series, "stacked": True}
