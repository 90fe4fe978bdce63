"""The failure webhook, against a local HTTP server: Slack-compatible JSON, masked,
and a webhook that is down never turns into a crash."""

from __future__ import annotations

from pytest_httpserver import HTTPServer

from dvbuild import console
from dvbuild.adapters import notify

REPORT = {"package": "arbeidsledighet", "status": "failed", "commit": "abcdef1234567890",
          "notebooks": [{"path": "main.ipynb", "error": {"cell_number": 4, "ename": "KeyError",
                                                         "evalue": "'region'"}}]}


def test_posts_slack_compatible_text(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    env = {notify.ENV_VAR: httpserver.url_for("/hook")}
    assert notify.notify_failure(env, REPORT, "main.ipynb failed in cell 4")
    (request, _), = httpserver.log
    assert request.headers["Content-Type"] == "application/json"
    text = request.get_json()["text"]
    assert "arbeidsledighet" in text and "cell 4: KeyError" in text and "abcdef123456" in text


def test_masks_secrets(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    console.mask("leaked-password-123")
    notify.notify_failure({notify.ENV_VAR: httpserver.url_for("/hook")}, REPORT,
                          "connect failed with leaked-password-123")
    (request, _), = httpserver.log
    assert "leaked-password-123" not in request.get_data(as_text=True)


def test_unset_or_failing_webhook_is_not_fatal(httpserver: HTTPServer) -> None:
    assert notify.notify_failure({}, REPORT, "x") is False
    httpserver.expect_request("/hook").respond_with_data("nope", status=500)
    assert notify.notify_failure({notify.ENV_VAR: httpserver.url_for("/hook")}, REPORT, "x") is False
    assert notify.notify_failure({notify.ENV_VAR: "http://127.0.0.1:9/none"}, REPORT, "x") is False
