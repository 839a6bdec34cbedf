"""Slack as a notification channel: posting to incoming webhooks and reading Slack's answers, the URL
checked again before each post, the team's webhook before the company's, and the API that manages
them (URL write-only, owners and admins only, a test message against a local fake Slack)."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from datetime import timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from integrations import secrets, slack
from integrations.models import SlackWebhook
from integrations.slack import SendError, post, slack_webhook_save, slack_webhook_update, webhook_for
from outcomes.services.teams import team_create
from tests.assertions import assert_invalid
from tests.conftest import Cast, fake_resolve
from tests.fake_slack import WEBHOOK_PATH, FakeSlack

A = "/api/v1/companies/alpha/slack-webhooks/"
B = "/api/v1/companies/bravo/slack-webhooks/"
SLACK_URL = "https://hooks.slack.com/services/T0AAAAAAA/B0BBBBBBB/abcdefghijklmnopqrstWXYZ"
OTHER_URL = "https://hooks.slack.com/services/T0AAAAAAA/B0CCCCCCC/zyxwvutsrqponmlkjih9876"
SECRET_PART = "abcdefghijklmnopqrstWXYZ"
SLACK_DNS = {"hooks.slack.com": ["18.205.93.1"], "chat.acme.example": ["93.184.216.34"]}


@pytest.fixture(autouse=True)
def _slack_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Slack's host resolves to a public address, on top of the suite's fake DNS."""
    monkeypatch.setattr(
        "integrations.netsafety.resolve", lambda host: SLACK_DNS[host] if host in SLACK_DNS else fake_resolve(host)
    )


@pytest.fixture(autouse=True)
def _no_sample_webhooks(cast: Cast) -> None:
    """The cast's Slack webhooks are for the matrices; these tests start with none."""
    from integrations.models import SlackWebhook

    SlackWebhook.objects.all().delete()


def secret_free(message: str, url: str) -> bool:
    """No part of the webhook URL that lets someone post (its path) appears in the message."""
    path = url.split("/services/", 1)[-1]
    return url not in message and path not in message and path.rsplit("/", 1)[-1] not in message


# --- posting -----------------------------------------------------------------------------------------------------

BLOCKS = [{"type": "section", "text": {"type": "mrkdwn", "text": "*Checkout* shipped"}}]


def test_post_delivers_text_and_blocks(fake_slack: FakeSlack):
    post(fake_slack.url, text="Checkout shipped", blocks=BLOCKS)
    assert fake_slack.posts == [{"text": "Checkout shipped", "blocks": BLOCKS}]


def test_post_without_blocks_sends_text_only(fake_slack: FakeSlack):
    post(fake_slack.url, text="Plain")
    assert fake_slack.posts == [{"text": "Plain"}]


def test_debug_logging_never_shows_the_url(fake_slack: FakeSlack, caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    fake_slack.fail_next(404, "no_service")
    with pytest.raises(SendError):
        post(fake_slack.url, text="Hello")
    post(fake_slack.url, text="Hello")
    ours = [record.getMessage() for record in caplog.records if record.name != "werkzeug"]  # the fake's own log
    assert all(secret_free(message, fake_slack.url) for message in ours)


FAILURES = [
    # status, body, headers, transient, retry_after, what the message must say
    (400, "invalid_payload", {}, False, None, "invalid_payload"),
    (400, "invalid_blocks", {}, False, None, "invalid_blocks"),
    (400, "no_text", {}, False, None, "no_text"),
    (403, "action_prohibited", {}, False, None, "Ask a Slack admin"),
    (403, "posting_to_general_channel_denied", {}, False, None, "another channel"),
    (403, "invalid_token", {}, False, None, "create a new incoming webhook"),
    (404, "no_service", {}, False, None, "no longer exists (no_service): create a new incoming webhook"),
    (404, "no_team", {}, False, None, "workspace does not exist"),
    (404, "channel_not_found", {}, False, None, "channel no longer exists"),
    (410, "channel_is_archived", {}, False, None, "archived (channel_is_archived): unarchive it"),
    (404, "<html>Not here</html>", {}, False, None, "does not exist (HTTP 404)"),
    (401, "", {}, False, None, "refused the post (HTTP 401)"),
    (429, "rate_limited", {"Retry-After": "30"}, True, 30, "after 30 s"),
    (429, "", {}, True, None, "limiting"),
    (500, "rollup_error", {}, True, None, "HTTP 500 rollup_error"),
    (502, "<html>Bad gateway</html>", {}, True, None, "HTTP 502"),
    (503, "", {"Retry-After": "120"}, True, 120, "right now"),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "transient", "retry_after", "says"),
    FAILURES,
    ids=[f"{f[0]}-{f[1]}" for f in FAILURES],
)
def test_every_answer_of_slack_is_classified(
    fake_slack: FakeSlack, status, body, headers, transient, retry_after, says
):
    fake_slack.fail_next(status, body, headers)
    with pytest.raises(SendError) as caught:
        post(fake_slack.url, text="Hello")
    error = caught.value
    assert (error.transient, error.retry_after, error.status) == (transient, retry_after, status)
    assert says in str(error)
    assert secret_free(str(error), fake_slack.url)
    assert "<html>" not in str(error)  # a server's page is never echoed
    assert fake_slack.posts == [] and len(fake_slack.attempts) == 1


def test_retry_after_as_an_http_date_becomes_seconds(fake_slack: FakeSlack):
    fake_slack.fail_next(429, "rate_limited", {"Retry-After": format_datetime(timezone.now() + timedelta(seconds=90))})
    with pytest.raises(SendError) as caught:
        post(fake_slack.url, text="Hello")
    assert caught.value.transient
    assert caught.value.retry_after is not None and 85 <= caught.value.retry_after <= 91


def test_failures_pass_and_the_next_post_goes_through(fake_slack: FakeSlack):
    fake_slack.fail_next(500, "rollup_error", times=2)
    for _ in range(2):
        with pytest.raises(SendError):
            post(fake_slack.url, text="Hello")
    post(fake_slack.url, text="Hello")
    assert len(fake_slack.attempts) == 3 and fake_slack.posts == [{"text": "Hello"}]


def test_a_redirect_is_not_followed(fake_slack: FakeSlack, httpserver: HTTPServer):
    """A saved URL must not bounce our request somewhere nobody checked."""
    bounced: list[str] = []

    def internal(request: Request) -> Response:
        bounced.append(request.method)
        return Response("metadata")

    httpserver.expect_request("/internal").respond_with_handler(internal)
    fake_slack.fail_next(302, "", {"Location": httpserver.url_for("/internal")})
    with pytest.raises(SendError) as caught:
        post(fake_slack.url, text="Hello")
    assert not caught.value.transient and "redirect" in str(caught.value)
    assert bounced == []


def test_a_refused_connection_is_transient(settings):
    settings.TRACKER_ALLOW_PRIVATE_URLS = True
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
    with pytest.raises(SendError) as caught:
        post(url, text="Hello")
    assert caught.value.transient and "Could not reach Slack" in str(caught.value)
    assert secret_free(str(caught.value), url)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        yield server.getsockname()[1]


def test_a_timeout_is_transient(settings, monkeypatch: pytest.MonkeyPatch, silent_server: int):
    settings.TRACKER_ALLOW_PRIVATE_URLS = True
    monkeypatch.setattr(slack, "TIMEOUT", 0.3)
    with pytest.raises(SendError) as caught:
        post(f"http://127.0.0.1:{silent_server}{WEBHOOK_PATH}", text="Hello")
    assert caught.value.transient and "timed out" in str(caught.value)


def test_a_host_that_now_resolves_privately_is_refused_before_posting(monkeypatch: pytest.MonkeyPatch):
    """Saved while public; DNS changed since. Nothing is sent, and retrying will not help."""
    monkeypatch.setattr("integrations.netsafety.resolve", lambda host: ["10.0.0.7"])
    monkeypatch.setattr(slack, "_WebhookClient", None)  # any attempt to post would crash the test
    with pytest.raises(SendError) as caught:
        post(SLACK_URL, text="Hello")
    assert not caught.value.transient
    assert "private" in str(caught.value)
    assert secret_free(str(caught.value), SLACK_URL)


@pytest.mark.parametrize(
    "url", ["http://hooks.slack.com/services/T/B/X", "https://127.0.0.1/services/T/B/X", "https://localhost/x"]
)
def test_urls_that_are_not_public_https_are_refused_at_post_time(url):
    with pytest.raises(SendError) as caught:
        post(url, text="Hello")
    assert not caught.value.transient


def test_a_dns_failure_at_post_time_is_transient(monkeypatch: pytest.MonkeyPatch):
    def down(host: str) -> list[str]:
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr("integrations.netsafety.resolve", down)
    with pytest.raises(SendError) as caught:
        post(SLACK_URL, text="Hello")
    assert caught.value.transient and "did not resolve" in str(caught.value)


# --- which webhook --------------------------------------------------------------------------------------------------


def test_webhook_for_prefers_the_team_then_the_company(cast: Cast, django_assert_num_queries):
    other_team = team_create(company=cast.company_a, name="Alpha Platform")
    assert webhook_for(cast.company_a.pk, cast.team_a.pk) is None
    slack_webhook_save(company=cast.company_a, url=SLACK_URL)
    slack_webhook_save(company=cast.company_a, team=cast.team_a, url=OTHER_URL)
    with django_assert_num_queries(1):
        assert webhook_for(cast.company_a.pk, cast.team_a.pk) == OTHER_URL
    assert webhook_for(cast.company_a.pk, other_team.pk) == SLACK_URL
    assert webhook_for(cast.company_a.pk, None) == SLACK_URL


def test_webhook_for_never_returns_another_companys(cast: Cast):
    slack_webhook_save(company=cast.company_b, url=OTHER_URL)
    slack_webhook_save(company=cast.company_b, team=cast.team_b, url=OTHER_URL)
    assert webhook_for(cast.company_a.pk, cast.team_b.pk) is None
    assert webhook_for(cast.company_a.pk, None) is None
    slack_webhook_save(company=cast.company_a, url=SLACK_URL)
    assert webhook_for(cast.company_a.pk, cast.team_b.pk) == SLACK_URL


def test_an_unreadable_webhook_is_a_permanent_send_error(cast: Cast):
    webhook = slack_webhook_save(company=cast.company_a, url=SLACK_URL)
    SlackWebhook.objects.filter(pk=webhook.pk).update(url_encrypted="not-a-fernet-token")
    with pytest.raises(SendError) as caught:
        webhook_for(cast.company_a.pk, None)
    assert not caught.value.transient and "save it again" in str(caught.value)


# --- services -------------------------------------------------------------------------------------------------------


def test_save_stores_the_url_encrypted_and_replaces_in_place(cast: Cast):
    first = slack_webhook_save(company=cast.company_a, url=SLACK_URL)
    assert first.url_hint == "…WXYZ"
    assert SLACK_URL not in first.url_encrypted and SECRET_PART not in first.url_encrypted
    assert secrets.decrypt(first.url_encrypted) == {"url": SLACK_URL}
    second = slack_webhook_save(company=cast.company_a, url=OTHER_URL)
    assert second.pk == first.pk and second.url_hint == "…9876"
    assert SlackWebhook.objects.filter(company=cast.company_a).count() == 1


def test_save_reports_a_foreign_team_and_a_bad_url_together(cast: Cast):
    with pytest.raises(ValidationError) as caught:
        slack_webhook_save(company=cast.company_a, team=cast.team_b, url="http://hooks.slack.com/services/x")
    assert set(caught.value.message_dict) == {"team", "url"}
    assert not SlackWebhook.objects.exists()


def test_moving_a_webhook_onto_a_taken_place_is_refused(cast: Cast):
    company_wide = slack_webhook_save(company=cast.company_a, url=SLACK_URL)
    team_one = slack_webhook_save(company=cast.company_a, team=cast.team_a, url=OTHER_URL)
    with pytest.raises(ValidationError) as caught:
        slack_webhook_update(webhook=team_one, team=None)
    assert "The company already has" in caught.value.message_dict["team"][0]
    slack_webhook_update(webhook=company_wide, url=OTHER_URL)  # the team is kept when not given
    company_wide.refresh_from_db()
    assert company_wide.team_id is None and company_wide.url_hint == "…9876"


# --- API ------------------------------------------------------------------------------------------------------------


def test_create_never_echoes_the_url(cast: Cast, client_for):
    response = client_for(cast.owner_a).post(A, {"url": SLACK_URL}, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert set(body) == {"id", "team", "url_hint", "created", "updated"}
    assert body["team"] is None and body["url_hint"] == "…WXYZ"
    assert SECRET_PART.encode() not in response.content
    for path in (A, f"{A}{body['id']}/"):
        assert SECRET_PART.encode() not in client_for(cast.owner_a).get(path).content


def test_a_second_company_webhook_replaces_the_first(cast: Cast, client_for):
    client = client_for(cast.admin_a)
    first = client.post(A, {"url": SLACK_URL}, format="json").json()
    again = client.post(A, {"url": OTHER_URL, "team": None}, format="json")
    assert again.status_code == 200, again.content
    assert again.json()["id"] == first["id"] and again.json()["url_hint"] == "…9876"
    assert webhook_for(cast.company_a.pk, None) == OTHER_URL


def test_a_team_webhook_sits_beside_the_company_one(cast: Cast, client_for):
    client = client_for(cast.owner_a)
    client.post(A, {"url": SLACK_URL}, format="json")
    response = client.post(A, {"url": OTHER_URL, "team": cast.team_a.pk}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["team"] == cast.team_a.pk
    assert [row["team"] for row in client.get(A).json()["results"]] == [None, cast.team_a.pk]


HOSTILE = [
    "http://hooks.slack.com/services/T/B/X",
    "https://127.0.0.1/services/T/B/X",
    "https://[::1]/services/T/B/X",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.5/services/T/B/X",
    "https://intranet.acme.example/services/T/B/X",
    "https://localhost/services/T/B/X",
    "https://hooks.slack.com:8443/services/T/B/X",
    "https://user:pass@hooks.slack.com/services/T/B/X",
    "file:///etc/passwd",
    "not a url",
]


@pytest.mark.parametrize("url", HOSTILE)
def test_hostile_urls_are_field_errors_and_store_nothing(url, cast: Cast, client_for):
    response = client_for(cast.owner_a).post(A, {"url": url}, format="json")
    assert_invalid(response, "url")
    assert not SlackWebhook.objects.exists()


def test_a_url_is_required(cast: Cast, client_for):
    assert_invalid(client_for(cast.owner_a).post(A, {"team": cast.team_a.pk}, format="json"), "url")


def test_another_companys_team_is_a_field_error(cast: Cast, client_for):
    response = client_for(cast.owner_a).post(A, {"url": SLACK_URL, "team": cast.team_b.pk}, format="json")
    assert_invalid(response, "team")
    assert not SlackWebhook.objects.exists()


def test_update_changes_the_url_and_refuses_a_taken_place(cast: Cast, client_for):
    client = client_for(cast.owner_a)
    company_wide = client.post(A, {"url": SLACK_URL}, format="json").json()
    team_one = client.post(A, {"url": SLACK_URL, "team": cast.team_a.pk}, format="json").json()
    patched = client.patch(f"{A}{team_one['id']}/", {"url": OTHER_URL}, format="json")
    assert patched.status_code == 200 and patched.json()["url_hint"] == "…9876"
    assert patched.json()["team"] == cast.team_a.pk
    assert_invalid(client.put(f"{A}{team_one['id']}/", {"url": OTHER_URL}, format="json"), "team")
    assert_invalid(client.patch(f"{A}{company_wide['id']}/", {"url": "https://10.0.0.5/x"}, format="json"), "url")
    assert_invalid(client.patch(f"{A}{company_wide['id']}/", {"team": cast.team_b.pk}, format="json"), "team")
    assert webhook_for(cast.company_a.pk, None) == SLACK_URL


def test_delete_falls_back_to_the_company_webhook(cast: Cast, client_for):
    client = client_for(cast.owner_a)
    client.post(A, {"url": SLACK_URL}, format="json")
    team_one = client.post(A, {"url": OTHER_URL, "team": cast.team_a.pk}, format="json").json()
    assert client.delete(f"{A}{team_one['id']}/").status_code == 204
    assert webhook_for(cast.company_a.pk, cast.team_a.pk) == SLACK_URL


def test_another_companys_webhook_is_a_404(cast: Cast, client_for):
    webhook = slack_webhook_save(company=cast.company_a, url=SLACK_URL)
    outsider = client_for(cast.owner_b)
    assert outsider.get(A).status_code == 404
    for method, body in (("get", None), ("patch", {"url": OTHER_URL}), ("delete", None)):
        assert getattr(outsider, method)(f"{B}{webhook.pk}/", body, format="json").status_code == 404
    assert outsider.post(f"{B}{webhook.pk}/test/").status_code == 404
    assert webhook_for(cast.company_a.pk, None) == SLACK_URL


@pytest.mark.parametrize("role", ["member", "viewer", "executive"])
def test_only_owners_and_admins_manage_slack(role: str, cast: Cast, client_for):
    webhook = slack_webhook_save(company=cast.company_a, url=SLACK_URL)
    client = client_for(cast.by_role_a[role])
    assert client.get(A).status_code == 403
    assert client.get(f"{A}{webhook.pk}/").status_code == 403
    assert client.post(A, {"url": OTHER_URL}, format="json").status_code == 403
    assert client.patch(f"{A}{webhook.pk}/", {"url": OTHER_URL}, format="json").status_code == 403
    assert client.delete(f"{A}{webhook.pk}/").status_code == 403
    assert client.post(f"{A}{webhook.pk}/test/").status_code == 403
    assert webhook_for(cast.company_a.pk, None) == SLACK_URL


def test_api_keys_and_the_anonymous_cannot_manage_slack(cast: Cast, client_for, key_client):
    assert key_client(cast.raw_key_a).post(A, {"url": SLACK_URL}, format="json").status_code == 403
    assert client_for(None).get(A).status_code in (401, 403)
    assert not SlackWebhook.objects.exists()


def test_list_queries_do_not_grow_with_rows(cast: Cast, client_for):
    client = client_for(cast.owner_a)
    slack_webhook_save(company=cast.company_a, url=SLACK_URL)

    def count() -> int:
        with CaptureQueriesContext(db_connection) as queries:
            assert client.get(A).status_code == 200
        return len(queries)

    few = count()
    for index in range(5):
        slack_webhook_save(
            company=cast.company_a, team=team_create(company=cast.company_a, name=f"T{index}"), url=OTHER_URL
        )
    assert count() == few


def test_the_test_action_posts_to_the_channel(fake_slack: FakeSlack, cast: Cast, client_for):
    client = client_for(cast.owner_a)
    created = client.post(A, {"url": fake_slack.url, "team": cast.team_a.pk}, format="json").json()
    response = client.post(f"{A}{created['id']}/test/")
    assert response.status_code == 200, response.content
    assert response.json() == {"sent": True}
    assert len(fake_slack.posts) == 1 and "Alpha Checkout" in fake_slack.posts[0]["text"]


def test_the_test_action_reports_a_removed_webhook_as_a_url_error(fake_slack: FakeSlack, cast: Cast, client_for):
    client = client_for(cast.admin_a)
    created = client.post(A, {"url": fake_slack.url}, format="json").json()
    fake_slack.fail_next(404, "no_service")
    body = assert_invalid(client.post(f"{A}{created['id']}/test/"), "url")
    assert body["fields"]["url"] == [
        "Slack says the webhook no longer exists (no_service): create a new incoming webhook in Slack and save it here."
    ]
    assert fake_slack.posts == []


def test_the_test_action_reports_slack_unavailable_as_503(fake_slack: FakeSlack, cast: Cast, client_for):
    client = client_for(cast.owner_a)
    created = client.post(A, {"url": fake_slack.url}, format="json").json()
    fake_slack.fail_next(429, "rate_limited", {"Retry-After": "30"})
    response = client.post(f"{A}{created['id']}/test/")
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body: dict[str, Any] = response.json()
    assert body["status"] == 503 and body["code"] == "slack_unavailable" and "after 30 s" in body["detail"]
    assert secret_free(response.content.decode(), fake_slack.url)
