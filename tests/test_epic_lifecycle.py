"""The epic lifecycle: the transition table and the verdict rules, then the whole loop through the API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from rest_framework.test import APIClient

from epics.choices import ChangeSource, EpicStatus, ReviewState, Verdict
from epics.lifecycle import metric_verdict, move_problem, overall_verdict
from epics.models import ActualResult, Epic, MetricResult, OutcomeReview, StatusChange
from epics.services import epic_create, epic_transition
from okrs.choices import CheckInSource
from okrs.models import CheckIn, KeyResult
from outcomes.models import User
from tests.conftest import Cast

A = "/api/v1/companies/alpha"
EPICS = f"{A}/epics/"
T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)  # inside the cast's active quarter (2026 Q4)
DAY = timedelta(days=1)

Client = Callable[[User | None], APIClient]


# --- helpers -------------------------------------------------------------------------
def epic_url(epic_id: int, suffix: str = "") -> str:
    return f"{EPICS}{epic_id}/{suffix}"


def when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content
    return response.json()


def invalid(response: Any) -> dict[str, list[str]]:
    """The fields a 400 in the one error shape names."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert (body["status"], body["code"]) == (400, "invalid")
    return body["fields"]


def forbidden(response: Any) -> None:
    assert response.status_code == 403, response.content
    assert response.json()["status"] == 403


def move(client: APIClient, epic_id: int, status: str, reason: str = "") -> Any:
    return client.post(epic_url(epic_id, "transition/"), {"status": status, "reason": reason}, format="json")


def two_metrics(learning_plan: str = "Check the funnel after two weeks, tickets after six.") -> dict[str, Any]:
    return {
        "problem": "Shoppers abandon carts at the payment step.",
        "expected_results": "More carts become orders and fewer payment tickets.",
        "learning_plan": learning_plan,
        "metrics": [
            {
                "name": "Checkout conversion",
                "unit": "%",
                "direction": "increase",
                "baseline": "61.5",
                "target": "66",
                "data_source": "BI funnel",
                "window_days": 14,
            },
            {
                "name": "Payment tickets",
                "unit": "tickets",
                "direction": "decrease",
                "baseline": "120",
                "target": "90",
                "data_source": "Helpdesk",
                "window_days": 45,
            },
        ],
    }


def propose_ready_epic(client: APIClient, cast: Cast, title: str = "Express checkout") -> tuple[int, list[int]]:
    """Propose an epic owned by member_a with two metrics, serving the cast's key result: (epic id, metric ids)."""
    epic_id = ok(client.post(EPICS, {"title": title, "owner": cast.member_a.pk}, format="json"), 201)["id"]
    outcome = ok(client.put(epic_url(epic_id, "anticipated-outcome/"), two_metrics(), format="json"))
    link = {"key_result": cast.strategic_a["key_result"].pk}
    ok(client.post(epic_url(epic_id, "contributions/"), link, format="json"), 201)
    return epic_id, [metric["id"] for metric in outcome["metrics"]]


def deliver(client: APIClient, epic_id: int) -> None:
    ok(move(client, epic_id, "in_progress"))
    ok(move(client, epic_id, "done"))


# --- the transition table ------------------------------------------------------------
STATUSES = ["proposed", "planned", "in_progress", "done", "cancelled"]
ALLOWED = {
    ("proposed", "planned"),
    ("proposed", "in_progress"),
    ("proposed", "cancelled"),
    ("planned", "proposed"),
    ("planned", "in_progress"),
    ("planned", "cancelled"),
    ("in_progress", "planned"),
    ("in_progress", "done"),
    ("in_progress", "cancelled"),
    ("done", "in_progress"),
    ("cancelled", "proposed"),
}
REFUSED = sorted((a, b) for a in STATUSES for b in STATUSES if a != b and (a, b) not in ALLOWED)


def test_the_table_covers_every_status_pair():
    assert len(ALLOWED) + len(REFUSED) + len(STATUSES) == 25
    assert set(STATUSES) == set(EpicStatus.values)


@pytest.mark.parametrize(("from_status", "to_status"), sorted(ALLOWED))
def test_allowed_manual_moves_have_no_problem(from_status, to_status):
    assert move_problem(from_status, to_status) is None


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_refused_manual_moves_say_what_is_allowed(from_status, to_status):
    allowed = sorted(b for a, b in ALLOWED if a == from_status)
    assert move_problem(from_status, to_status) == (
        f"An epic cannot move from {from_status} to {to_status}; allowed: {', '.join(allowed)}."
    )


@pytest.mark.parametrize("status", STATUSES)
def test_moving_to_the_same_status_is_refused(status):
    assert move_problem(status, status) == f"The epic is already {status}."


# --- verdicts ------------------------------------------------------------------------
ACHIEVED, PARTLY, MISSED, INCONCLUSIVE = (Verdict.ACHIEVED, Verdict.PARTLY, Verdict.MISSED, Verdict.INCONCLUSIVE)


@pytest.mark.parametrize(
    ("direction", "baseline", "target", "value", "expected"),
    [
        ("increase", "60", "70", "70", ACHIEVED),  # at the target
        ("increase", "60", "70", "75.5", ACHIEVED),  # over it
        ("increase", "60", "70", "69.9999", PARTLY),
        ("increase", "60", "70", "60.0001", PARTLY),
        ("increase", "60", "70", "60", MISSED),  # at the baseline
        ("increase", "60", "70", "55", MISSED),  # behind it
        ("decrease", "120", "90", "90", ACHIEVED),
        ("decrease", "120", "90", "80", ACHIEVED),
        ("decrease", "120", "90", "100", PARTLY),
        ("decrease", "120", "90", "119.9999", PARTLY),
        ("decrease", "120", "90", "120", MISSED),
        ("decrease", "120", "90", "130", MISSED),
        ("stay_above", "99", "99.5", "99.5", ACHIEVED),
        ("stay_above", "99", "99.5", "99.9", ACHIEVED),
        ("stay_above", "99", "99.5", "99.2", MISSED),  # no "partly" for a floor
        ("stay_above", "99", "99.5", "98", MISSED),
        ("stay_below", "3", "2", "2", ACHIEVED),
        ("stay_below", "3", "2", "1.5", ACHIEVED),
        ("stay_below", "3", "2", "2.5", MISSED),  # no "partly" for a ceiling
        ("stay_below", "3", "2", "4", MISSED),
    ],
)
def test_metric_verdict(direction, baseline, target, value, expected):
    verdict = metric_verdict(
        direction=direction, baseline=Decimal(baseline), target=Decimal(target), value=Decimal(value)
    )
    assert verdict == expected


@pytest.mark.parametrize("direction", ["increase", "decrease", "stay_above", "stay_below"])
def test_metric_verdict_without_a_value_is_inconclusive(direction):
    assert metric_verdict(direction=direction, baseline=Decimal(1), target=Decimal(1), value=None) == INCONCLUSIVE


@pytest.mark.parametrize(
    ("verdicts", "expected"),
    [
        ([ACHIEVED], ACHIEVED),
        ([ACHIEVED, ACHIEVED], ACHIEVED),
        ([], INCONCLUSIVE),
        ([INCONCLUSIVE], INCONCLUSIVE),
        ([INCONCLUSIVE, INCONCLUSIVE], INCONCLUSIVE),
        ([ACHIEVED, INCONCLUSIVE], PARTLY),  # an unmeasured metric keeps the whole from "achieved"
        ([MISSED], MISSED),
        ([MISSED, MISSED], MISSED),
        ([MISSED, INCONCLUSIVE], MISSED),  # nothing that was measured moved
        ([ACHIEVED, MISSED], PARTLY),
        ([PARTLY], PARTLY),
        ([PARTLY, MISSED], PARTLY),
        ([ACHIEVED, PARTLY], PARTLY),
    ],
)
def test_overall_verdict(verdicts, expected):
    assert overall_verdict(verdicts) == expected


# --- the loop, end to end ------------------------------------------------------------
def test_the_loop_end_to_end(cast: Cast, client_for: Client):
    member, admin = cast.member_a, cast.admin_a
    key_result = cast.strategic_a["key_result"]
    t1, t2 = T0 + DAY, T0 + 2 * DAY
    with time_machine.travel(T0, tick=False) as clock:
        client = client_for(member)

        # propose
        body = ok(client.post(EPICS, {"title": "Express checkout", "owner": member.pk}, format="json"), 201)
        epic_id = body["id"]
        assert (body["status"], body["owner"]["id"], body["started_at"], body["review"]) == (
            "proposed",
            member.pk,
            None,
            None,
        )
        rows = StatusChange.objects.filter(epic_id=epic_id)
        assert [(r.from_status, r.to_status, r.source, r.actor_id, r.at) for r in rows] == [
            ("", "proposed", "manual", member.pk, T0)
        ]

        # starting needs an anticipated outcome
        assert "anticipated_outcome" in invalid(move(client, epic_id, "in_progress"))
        assert Epic.objects.get(pk=epic_id).status == "proposed"

        # write it: two metrics, windows 14 and 45 days
        outcome = ok(client.put(epic_url(epic_id, "anticipated-outcome/"), two_metrics(), format="json"))
        assert [(m["name"], m["window_days"]) for m in outcome["metrics"]] == [
            ("Checkout conversion", 14),
            ("Payment tickets", 45),
        ]
        assert outcome["frozen"] is False
        conversion, tickets = (m["id"] for m in outcome["metrics"])

        # serve a key result, start
        link = {"key_result": key_result.pk, "expected_contribution": "2"}
        ok(client.post(epic_url(epic_id, "contributions/"), link, format="json"), 201)
        body = ok(move(client, epic_id, "in_progress"))
        assert (body["status"], when(body["started_at"]), body["done_at"]) == ("in_progress", T0, None)
        assert body["key_results"] == [key_result.pk]
        assert body["has_anticipated_outcome"] is True

        # finish: a review opens, due after the longest window
        clock.move_to(t1)
        client = client_for(member)
        body = ok(move(client, epic_id, "done"))
        assert (body["status"], when(body["done_at"])) == ("done", t1)
        assert (body["review"]["phase"], when(body["review"]["due_at"])) == ("pending", t1 + 45 * DAY)
        review = ok(client.get(epic_url(epic_id, "review/")))
        assert (review["phase"], review["state"], review["results"]) == ("pending", "pending", [])
        assert (when(review["done_at"]), when(review["due_at"])) == (t1, t1 + 45 * DAY)
        assert [(m["metric"], m["name"], when(m["due_at"])) for m in review["metrics_due"]] == [
            (conversion, "Checkout conversion", t1 + 14 * DAY),
            (tickets, "Payment tickets", t1 + 45 * DAY),
        ]
        first_review = OutcomeReview.objects.get(pk=review["id"])

        # the anticipated outcome is frozen while done
        invalid(client.put(epic_url(epic_id, "anticipated-outcome/"), two_metrics("Changed."), format="json"))
        frozen = ok(client.get(epic_url(epic_id, "anticipated-outcome/")))
        assert (frozen["frozen"], frozen["learning_plan"]) == (True, two_metrics()["learning_plan"])

        # reopen: the pending review is cancelled, done_at cleared, the outcome editable again
        body = ok(move(client, epic_id, "in_progress", reason="Found a payment bug."))
        assert (body["status"], body["done_at"], body["review"]) == ("in_progress", None, None)
        assert when(body["started_at"]) == T0
        first_review.refresh_from_db()
        assert (first_review.state, first_review.closed_at) == (ReviewState.CANCELLED, t1)
        assert client.get(epic_url(epic_id, "review/")).status_code == 404
        edited = ok(client.put(epic_url(epic_id, "anticipated-outcome/"), two_metrics("Changed."), format="json"))
        assert (edited["learning_plan"], edited["frozen"]) == ("Changed.", False)
        assert [m["id"] for m in edited["metrics"]] == [conversion, tickets]

        # finish again: a new pending review
        clock.move_to(t2)
        client = client_for(member)
        body = ok(move(client, epic_id, "done"))
        assert when(body["done_at"]) == t2
        review = ok(client.get(epic_url(epic_id, "review/")))
        assert review["id"] != first_review.pk
        assert (review["phase"], when(review["due_at"])) == ("pending", t2 + 45 * DAY)
        assert OutcomeReview.objects.filter(epic_id=epic_id, state=ReviewState.PENDING).get().pk == review["id"]

        # the clock: pending until due, due for a week, then overdue
        for moment, phase in (
            (t2 + 45 * DAY - timedelta(seconds=1), "pending"),
            (t2 + 45 * DAY, "due"),
            (t2 + 52 * DAY - timedelta(seconds=1), "due"),
            (t2 + 52 * DAY, "overdue"),
        ):
            clock.move_to(moment)
            client = client_for(member)
            assert ok(client.get(epic_url(epic_id, "review/")))["phase"] == phase, moment
            assert ok(client.get(epic_url(epic_id)))["review"]["phase"] == phase, moment
        overdue_ids = [row["id"] for row in ok(client.get(EPICS, {"overdue": "true"}))["results"]]
        assert epic_id in overdue_ids

        # record the result: verdicts per metric and overall
        t3 = t2 + 52 * DAY
        first = {
            "metrics": [
                {"metric": conversion, "value": "66", "evidence_url": "https://bi.example.test/funnel"},
                {"metric": tickets, "value": "100", "evidence_note": "Helpdesk export"},
            ],
            "learnings": "Saved cards convert.",
            "next_steps": "Guest checkout.",
        }
        recorded = ok(client.post(epic_url(epic_id, "results/"), first, format="json"), 201)
        result = recorded["result"]
        assert (result["revision"], result["verdict"], result["verdict_override"], result["overall"]) == (
            1,
            "partly",
            "",
            "partly",
        )
        assert [(m["metric"], m["value"], m["verdict"]) for m in result["metric_results"]] == [
            (conversion, "66.0000", "achieved"),
            (tickets, "100.0000", "partly"),
        ]
        assert result["metric_results"][0]["evidence_url"] == "https://bi.example.test/funnel"
        assert (result["learnings"], result["recorded_by"]["id"], recorded["check_ins"]) == (
            "Saved cards convert.",
            member.pk,
            [],
        )
        assert ok(client.get(epic_url(epic_id, "review/")))["phase"] == "recorded"

        # record again: a new revision, the first unchanged
        second = {"metrics": [{"metric": conversion, "value": "60"}, {"metric": tickets, "value": "125"}]}
        result = ok(client.post(epic_url(epic_id, "results/"), second, format="json"), 201)["result"]
        assert (result["revision"], result["overall"]) == (2, "missed")
        revision_1 = ActualResult.objects.get(review_id=review["id"], revision=1)
        assert (revision_1.verdict, revision_1.learnings) == (Verdict.PARTLY, "Saved cards convert.")
        assert list(MetricResult.objects.filter(result=revision_1).values_list("metric_id", "value", "verdict")) == [
            (conversion, Decimal(66), "achieved"),
            (tickets, Decimal(100), "partly"),
        ]
        listed = ok(client.get(epic_url(epic_id, "review/")))
        assert [(r["revision"], r["overall"]) for r in listed["results"]] == [(2, "missed"), (1, "partly")]

        # an override needs a reason
        override = {**second, "verdict_override": "achieved"}
        assert set(invalid(client.post(epic_url(epic_id, "results/"), override, format="json"))) == {"override_reason"}
        assert ActualResult.objects.filter(review_id=review["id"]).count() == 2
        override["override_reason"] = "Tickets fell after the survey window."
        result = ok(client.post(epic_url(epic_id, "results/"), override, format="json"), 201)["result"]
        assert (result["revision"], result["verdict"], result["verdict_override"], result["overall"]) == (
            3,
            "missed",
            "achieved",
            "achieved",
        )
        assert result["override_reason"] == "Tickets fell after the survey window."

        # reopen once more (the recorded review stays recorded), cancel, and reopen the cancelled epic
        ok(move(client, epic_id, "in_progress"))
        assert OutcomeReview.objects.get(pk=review["id"]).state == ReviewState.RECORDED
        assert ok(move(client, epic_id, "cancelled", reason="Superseded."))["status"] == "cancelled"
        forbidden(move(client, epic_id, "proposed"))
        assert Epic.objects.get(pk=epic_id).status == "cancelled"
        assert ok(move(client_for(admin), epic_id, "proposed"))["status"] == "proposed"

        # the status history: every move, in order, manual, with its actor
        history = ok(client.get(epic_url(epic_id, "status-history/")))["results"]
        assert [(h["from_status"], h["to_status"], h["source"], h["actor"]["id"], when(h["at"])) for h in history] == [
            ("", "proposed", "manual", member.pk, T0),
            ("proposed", "in_progress", "manual", member.pk, T0),
            ("in_progress", "done", "manual", member.pk, t1),
            ("done", "in_progress", "manual", member.pk, t1),
            ("in_progress", "done", "manual", member.pk, t2),
            ("done", "in_progress", "manual", member.pk, t3),
            ("in_progress", "cancelled", "manual", member.pk, t3),
            ("cancelled", "proposed", "manual", admin.pk, t3),
        ]
        assert [h["reason"] for h in history][3] == "Found a payment bug."
        assert all(h["tracker_timestamp"] is None for h in history)


def test_recording_before_done_is_refused(cast: Cast, client_for: Client):
    client = client_for(cast.member_a)
    epic_id, metrics = propose_ready_epic(client, cast)
    ok(move(client, epic_id, "in_progress"))
    body = {"metrics": [{"metric": metrics[0], "value": "64"}]}
    response = client.post(epic_url(epic_id, "results/"), body, format="json")
    assert response.status_code == 400, response.content
    assert "not done" in str(response.json()["fields"])
    assert not ActualResult.objects.filter(review__epic_id=epic_id).exists()
    assert not OutcomeReview.objects.filter(epic_id=epic_id).exists()


def test_recording_posts_outcome_check_ins_to_key_results_in_the_same_unit(cast: Cast, client_for: Client):
    key_result = cast.strategic_a["key_result"]
    KeyResult.objects.filter(pk=key_result.pk).update(unit="%")
    with time_machine.travel(T0, tick=False):
        client = client_for(cast.member_a)
        epic_id, (conversion, tickets) = propose_ready_epic(client, cast)
        deliver(client, epic_id)
        body = {
            "metrics": [{"metric": conversion, "value": "64.2"}, {"metric": tickets, "value": "95"}],
            "post_check_ins": True,
        }
        recorded = ok(client.post(epic_url(epic_id, "results/"), body, format="json"), 201)
    posted = CheckIn.objects.filter(key_result=key_result, source=CheckInSource.OUTCOME)
    assert [(c.value, c.author_id, c.as_of) for c in posted] == [(Decimal("64.2"), cast.member_a.pk, T0)]
    assert recorded["check_ins"] == [posted.get().pk]  # only "%" matched: "tickets" is not the key result's unit


def test_recording_without_post_check_ins_posts_nothing(cast: Cast, client_for: Client):
    key_result = cast.strategic_a["key_result"]
    KeyResult.objects.filter(pk=key_result.pk).update(unit="%")
    client = client_for(cast.member_a)
    epic_id, (conversion, _) = propose_ready_epic(client, cast)
    deliver(client, epic_id)
    body = {"metrics": [{"metric": conversion, "value": "64.2"}]}
    assert ok(client.post(epic_url(epic_id, "results/"), body, format="json"), 201)["check_ins"] == []
    assert not CheckIn.objects.filter(key_result=key_result, source=CheckInSource.OUTCOME).exists()


def test_the_owner_waives_the_review_with_a_reason_and_then_nothing_is_recorded(cast: Cast, client_for: Client):
    client = client_for(cast.member_a)
    epic_id, (conversion, _) = propose_ready_epic(client, cast)
    deliver(client, epic_id)

    assert set(invalid(client.post(epic_url(epic_id, "review/waive/"), {"reason": ""}, format="json"))) == {"reason"}
    assert OutcomeReview.objects.get(epic_id=epic_id).state == ReviewState.PENDING

    waived = ok(client.post(epic_url(epic_id, "review/waive/"), {"reason": "Finance measures it."}, format="json"))
    assert (waived["phase"], waived["state"], waived["waived_reason"], waived["waived_by"]["id"]) == (
        "waived",
        "waived",
        "Finance measures it.",
        cast.member_a.pk,
    )
    assert waived["closed_at"] is not None
    assert ok(client.get(epic_url(epic_id)))["review"]["phase"] == "waived"

    body = {"metrics": [{"metric": conversion, "value": "64"}]}
    response = client.post(epic_url(epic_id, "results/"), body, format="json")
    assert response.status_code == 400, response.content
    assert not ActualResult.objects.filter(review__epic_id=epic_id).exists()
    assert OutcomeReview.objects.get(epic_id=epic_id).state == ReviewState.WAIVED


@pytest.mark.parametrize("role", ["viewer", "executive"])
def test_viewers_and_executives_cannot_record_results(cast: Cast, client_for: Client, role: str):
    done_epic = cast.strategic_a["done_epic"]
    body = {"metrics": [{"metric": cast.strategic_a["done_epic_metric"].pk, "value": "64"}]}
    forbidden(client_for(cast.by_role_a[role]).post(epic_url(done_epic.pk, "results/"), body, format="json"))
    assert not ActualResult.objects.filter(review__epic=done_epic).exists()
    assert OutcomeReview.objects.get(epic=done_epic).state == ReviewState.PENDING


# --- tracker moves -------------------------------------------------------------------
def test_a_sync_move_is_never_refused_and_flags_the_missing_anticipated_outcome(cast: Cast, client_for: Client):
    with time_machine.travel(T0 - 5 * DAY, tick=False):
        epic = epic_create(company=cast.company_a, title="Synced from the tracker", owner=cast.member_a)
    at = T0 - 3 * DAY
    with time_machine.travel(T0, tick=False):
        change = epic_transition(epic=epic, to_status=EpicStatus.DONE, source=ChangeSource.SYNC, tracker_timestamp=at)
    assert change is not None
    assert (change.from_status, change.to_status, change.source, change.at, change.tracker_timestamp) == (
        "proposed",
        "done",
        "sync",
        at,
        at,
    )
    epic.refresh_from_db()
    assert (epic.status, epic.started_at, epic.done_at) == ("done", at, at)
    assert OutcomeReview.objects.get(epic=epic).due_at == at + 30 * DAY  # no metrics: the default window

    client = client_for(cast.member_a)
    flags = {row["id"]: row["missing_anticipated_outcome"] for row in ok(client.get(EPICS))["results"]}
    assert flags[epic.pk] is True
    assert flags[cast.strategic_a["epic"].pk] is False
    missing = ok(client.get(EPICS, {"missing_anticipated_outcome": "true"}))["results"]
    assert [row["id"] for row in missing] == [epic.pk]

    history = ok(client.get(epic_url(epic.pk, "status-history/")))["results"]
    assert [(h["to_status"], h["source"], when(h["at"]), when(h["tracker_timestamp"])) for h in history[1:]] == [
        ("done", "sync", at, at)
    ]


def test_a_sync_event_older_than_the_newest_applied_is_ignored(cast: Cast):
    epic = epic_create(company=cast.company_a, title="Synced twice", owner=cast.member_a)
    newest = T0 - DAY
    epic_transition(epic=epic, to_status="in_progress", source=ChangeSource.SYNC, tracker_timestamp=newest)
    rows_before = StatusChange.objects.filter(epic=epic).count()

    for stale in (newest - timedelta(minutes=5), newest):
        assert (
            epic_transition(epic=epic, to_status="cancelled", source=ChangeSource.SYNC, tracker_timestamp=stale) is None
        )
    epic.refresh_from_db()
    assert (epic.status, epic.started_at) == ("in_progress", newest)
    assert StatusChange.objects.filter(epic=epic).count() == rows_before

    later = newest + timedelta(minutes=5)
    change = epic_transition(epic=epic, to_status="cancelled", source=ChangeSource.WEBHOOK, tracker_timestamp=later)
    assert change is not None and (change.to_status, change.at) == ("cancelled", later)
    assert Epic.objects.get(pk=epic.pk).status == "cancelled"


def test_a_sync_move_ignores_the_manual_table(cast: Cast):
    """done -> cancelled and cancelled -> done are not manual moves; the tracker may make them."""
    epic = cast.strategic_a["done_epic"]
    review = OutcomeReview.objects.get(epic=epic)
    assert move_problem("done", "cancelled") is not None
    change = epic_transition(epic=epic, to_status="cancelled", source=ChangeSource.SYNC)
    assert change is not None
    epic.refresh_from_db()
    assert (epic.status, epic.done_at) == ("cancelled", None)
    review.refresh_from_db()
    assert review.state == ReviewState.CANCELLED
