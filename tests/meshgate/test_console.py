"""The web console over a real registry server (auth on): pages, security, live events, lakehouse, lineage."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.meshgate.conftest import CHECKOUT

CHECKOUT_PATH = "/ui/subjects/checkout.CheckoutCompleted"


def _csrf(html: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]+)"', html).group(1)


def test_without_a_token_every_page_sends_to_the_login_page_and_shows_no_data(sign_in):
    client = sign_in(None)
    for path in ("/ui/", CHECKOUT_PATH, "/ui/changes", "/ui/lakehouse", "/ui/lineage"):
        response = client.get(path)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/ui/login?next=")
        assert "checkout" not in response.text
    login = client.get("/ui/login")
    assert login.status_code == 200 and 'name="token"' in login.text and CHECKOUT not in login.text
    assert client.get("/ui/events", headers={"accept": "text/event-stream"}).status_code == 401


def test_an_unknown_token_is_refused_at_login(sign_in):
    response = sign_in(None).post("/ui/login", data={"token": "mgt_nope"})
    assert response.status_code == 401 and "unknown token" in response.text
    assert "set-cookie" not in response.headers


def test_login_sets_an_http_only_same_site_strict_cookie(console_site):
    with httpx.Client(base_url=console_site.url) as client:
        response = client.post("/ui/login", data={"token": console_site.tokens["billing"], "next": "/ui/"})
    cookie = response.headers["set-cookie"].lower()
    assert response.status_code == 303 and response.headers["location"] == "/ui/"
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui" in cookie


def test_login_never_redirects_off_the_console(console_site):
    with httpx.Client(base_url=console_site.url) as client:
        response = client.post(
            "/ui/login", data={"token": console_site.tokens["billing"], "next": "https://evil.example/"}
        )
    assert response.headers["location"] == "/ui/"


def test_subject_list_searches_filters_and_pages_ten_thousand_ready(sign_in):
    client = sign_in("billing")
    page = client.get("/ui/", params={"q": "CheckoutComp"}).text
    assert CHECKOUT in page and "inventory.Item" not in page
    assert "1 subjects" in page
    protobuf = client.get("/ui/", params={"format": "PROTOBUF"}).text
    assert "identity.UserSignedUp" in protobuf and CHECKOUT not in protobuf
    domain = client.get("/ui/", params={"domain": "inventory"}).text
    assert (
        "60 subjects · page 1 of 2" in domain
        and "inventory.Item49" in domain
        and "inventory.Item50" not in domain
    )
    second = client.get("/ui/", params={"domain": "inventory", "page": 2}).text
    assert "inventory.Item50" in second and "inventory.Item49" not in second
    level = client.get("/ui/", params={"level": "NONE"}).text
    assert "No subject matches." in level


def test_subject_list_shows_a_subject_registered_or_deleted_since_the_last_look(sign_in, console_site):
    client = sign_in("billing")
    assert "inventory.Fresh" not in client.get("/ui/", params={"domain": "inventory", "page": 2}).text
    service = console_site.server.service
    service.register("inventory.Fresh", '{"type": "int"}', "AVRO")
    assert "inventory.Fresh" in client.get("/ui/", params={"q": "Fresh"}).text
    service.delete_subject("inventory.Fresh")
    assert "No subject matches." in client.get("/ui/", params={"q": "Fresh"}).text


def test_subject_list_row_shows_latest_version_consumers_and_level(sign_in):
    page = sign_in("billing").get("/ui/", params={"q": CHECKOUT}).text
    row = re.search(r"<tr>\s*<td><a [^>]*>checkout\.CheckoutCompleted</a>.*?</tr>", page, re.S).group(0)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)[1:]
    assert cells[:6] == ["checkout", "v3", "AVRO", "BACKWARD", "READWRITE", "1"]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", cells[6])


def test_subject_page_shows_history_schema_highlighted_and_consumer_fields(sign_in):
    page = sign_in("billing").get(CHECKOUT_PATH, params={"version": 2}).text
    assert all(f">v{n}</a>" in page for n in (1, 2, 3))
    assert 'class="c"><span class="' in page  # pygments' token classes
    assert "billing.reports" in page and "amount, currency" in page
    read = re.findall(r'<tr class="read" id="L(\d+)">(.*?)</tr>', page, re.S)
    assert read and all("amount" in line or "currency" in line for _, line in read)


def test_a_schema_doc_holding_a_script_renders_as_text(sign_in):
    page = sign_in("billing").get("/ui/subjects/security.Doc").text
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(" in page


def test_diff_marks_a_violation_on_its_line_at_the_subjects_level_and_others(sign_in):
    page = sign_in("billing").get("/ui/diff/checkout.CheckoutCompleted", params={"from": 1, "to": 3}).text
    row = re.search(r'<tr class="changed violated" data-new-line="29">.*?</tr>', page, re.S).group(0)
    assert "TYPE_CHANGED" in row and "CheckoutCompleted.amount" in row and "fix:" in row
    found = re.findall(
        r'<div class="finding( own)?"><b>TYPE_CHANGED</b> <span class="lvl">([^<]*)</span>', row
    )
    assert (" own", "BACKWARD, BACKWARD_TRANSITIVE, FULL, FULL_TRANSITIVE") in found
    assert ("", "FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE") in found  # the other levels too
    verdict = re.search(r'<p class="verdict bad">(.*?)</p>', page, re.S).group(1)
    assert re.match(r"At the subject's level BACKWARD: \d+ violation\(s\)", verdict), verdict


def test_try_a_change_names_the_consumer_a_breaking_candidate_breaks(sign_in, console_site):
    client = sign_in("billing")
    csrf = _csrf(client.get(CHECKOUT_PATH).text)
    latest = console_site.server.service.get_version(CHECKOUT)
    candidate = latest.schema.replace('"name": "currency"', '"name": "currency_code"')
    response = client.post("/ui/try/checkout.CheckoutCompleted", data={"csrf": csrf, "schema": candidate})
    assert response.status_code == 200
    assert "Breaking: registering it would be rejected." in response.text
    broken = re.search(r'<ul class="broken">(.*?)</ul>', response.text, re.S).group(1)
    assert "billing.reports" in broken
    assert console_site.server.service.list_versions(CHECKOUT) == [1, 2, 3]  # nothing registered


def test_try_a_change_reports_an_unparsable_candidate(sign_in):
    client = sign_in("billing")
    csrf = _csrf(client.get(CHECKOUT_PATH).text)
    response = client.post("/ui/try/checkout.CheckoutCompleted", data={"csrf": csrf, "schema": "{not json"})
    assert response.status_code == 422 and "Not a valid schema" in response.text


def test_owner_changes_the_level_another_domain_is_refused(sign_in, console_site):
    service = console_site.server.service
    owner = sign_in("checkout-team")
    page = owner.get("/ui/subjects/inventory.Item00").text
    assert "Set level" not in page  # checkout owns no inventory subject
    page = owner.get(CHECKOUT_PATH).text
    assert "Set level" in page
    response = owner.post(
        "/ui/config/checkout.CheckoutCompleted", data={"csrf": _csrf(page), "level": "FULL", "ruleset": ""}
    )
    assert response.status_code == 303 and service.get_config(CHECKOUT).level.value == "FULL"
    other = sign_in("identity-team")
    page = other.get(CHECKOUT_PATH).text
    assert "Set level" not in page
    response = other.post(
        "/ui/config/checkout.CheckoutCompleted", data={"csrf": _csrf(page), "level": "NONE"}
    )
    assert response.status_code == 403 and "belongs to domain &#39;checkout&#39;" in response.text
    assert service.get_config(CHECKOUT).level.value == "FULL"
    service.set_config(CHECKOUT, "BACKWARD")
    audit = [e for e in console_site.server.tokens.audit(20) if e.action == "console config"]
    assert {(e.token_name, e.outcome) for e in audit} >= {
        ("checkout-team", "OK"),
        ("identity-team", "PermissionDenied"),
    }


def test_a_read_only_token_sees_no_write_controls_and_its_writes_are_refused(sign_in, console_site):
    client = sign_in("billing")
    page = client.get(CHECKOUT_PATH).text
    assert "Set level" not in page and "Set mode" not in page
    response = client.post(
        "/ui/mode/checkout.CheckoutCompleted", data={"csrf": _csrf(page), "mode": "READONLY"}
    )
    assert response.status_code == 403
    assert console_site.server.service.get_mode(CHECKOUT) == "READWRITE"


def test_a_cross_site_form_post_is_refused(sign_in, console_site):
    client = sign_in("admin")
    csrf = _csrf(client.get(CHECKOUT_PATH).text)
    forged = client.post(
        "/ui/mode/checkout.CheckoutCompleted",
        data={"csrf": csrf, "mode": "READONLY"},
        headers={"origin": "https://evil.example"},
    )
    assert forged.status_code == 403 and "cross-site" in forged.text
    without_token = client.post("/ui/mode/checkout.CheckoutCompleted", data={"mode": "READONLY"})
    assert without_token.status_code == 403 and "CSRF" in without_token.text
    not_ascii = client.post(
        "/ui/mode/checkout.CheckoutCompleted", data={"csrf": "Ã" + csrf, "mode": "READONLY"}
    )
    assert not_ascii.status_code == 403 and "CSRF" in not_ascii.text
    assert console_site.server.service.get_mode(CHECKOUT) == "READWRITE"


def test_changes_feed_filters_by_domain_subject_and_type(sign_in):
    client = sign_in("billing")
    page = client.get("/ui/changes", params={"subject": CHECKOUT, "type": "CONSUMER_ADDED"}).text
    rows = re.findall(r"<tr>\s*<td>\d+</td>.*?</tr>", page, re.S)
    assert len(rows) == 1 and "consumer=billing.reports" in rows[0]
    page = client.get("/ui/changes", params={"domain": "identity"}).text
    assert "identity.UserSignedUp" in page and CHECKOUT not in page


def test_event_stream_sends_a_version_registered_anywhere(sign_in, console_site):
    client = sign_in("billing")
    after = int(re.search(r'data-after="(\d+)"', client.get("/ui/changes").text).group(1))
    service = console_site.server.service
    threading.Timer(0.5, service.register, ("inventory.Live", '{"type": "string"}', "AVRO")).start()
    received = []
    with client.stream("GET", "/ui/events", params={"after": after, "domain": "inventory"}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                received.append(json.loads(line.removeprefix("data: ")))
                break
    assert received[0]["subject"] == "inventory.Live" and received[0]["type"] == "VERSION_REGISTERED"


@pytest.mark.parametrize("after", ["99999999999999999999", "-1"])
def test_an_event_stream_after_no_sequence_is_refused_before_it_starts(sign_in, after):
    """A position the store cannot hold ends in an error page, not in a stream the server breaks."""
    response = sign_in("billing").get("/ui/events", params={"after": after})
    assert response.status_code == 422
    assert "after: a sequence number from 0 to 9223372036854775807 is expected" in response.text


def test_lakehouse_shows_bronze_snapshots_the_log_and_retention(sign_in, console_site):
    client = sign_in("billing")
    page = client.get("/ui/lakehouse").text
    assert (
        "bronze.checkout__checkout_completed" in page
        and "quarantined" in page
        and "retention" in page.lower()
    )
    table = client.get("/ui/lakehouse/tables/checkout.CheckoutCompleted").text
    assert console_site.batch_id in table and "current" in table


def test_a_quarantined_batch_shows_its_reasons_with_line_and_field_and_no_values(sign_in, console_site):
    page = (
        sign_in("billing")
        .get(f"/ui/lakehouse/batches/checkout.CheckoutCompleted/{console_site.batch_id}")
        .text
    )
    assert "quarantined" in page
    reasons = re.findall(r'<section class="reason"><h3>(\S+)', page)
    assert reasons
    rows = re.findall(r"<tr><td>[^<]*checkout-bad.jsonl</td><td>(\d+)</td><td>([^<]*)</td>", page)
    assert rows and all(line.isdigit() for line, _ in rows)
    shown = page.split("Quarantined rows by reason")[1]
    assert not re.search(r"[\w.+-]+@[\w-]+\.[\w.]+", shown)  # no e-mail address (PII) shown


def test_lineage_links_a_contract_to_its_bronze_table_and_gold_model(sign_in):
    client = sign_in("billing")
    page = client.get("/ui/lineage").text
    for label in (
        CHECKOUT,
        "bronze.checkout__checkout_completed",
        "silver.silver_checkout_completed",
        "gold.daily_revenue",
    ):
        assert f'data-node="{label}"' in page
    assert page.count('class="edge"') == 3
    assert page.count('<polyline class="series"') == 2  # daily active users and revenue, drawn as SVG
    assert "daily active users (30 days, max 164)" in page
    model = client.get("/ui/lineage/models/model.meshgate.daily_revenue").text
    assert "Revenue per UTC day" in model and "model.meshgate.silver_checkout_completed" in model


def test_serve_without_ui_has_no_console(tmp_path):
    from tests.test_architecture import _ready_ports

    process = subprocess.Popen(
        [sys.executable, "-m", "meshgate.cli", "serve", "--no-auth", "--no-ui"]
        + ["--grpc-port", "0", "--http-port", "0", "--data-dir", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = _ready_ports(process)["http_port"]
        assert httpx.get(f"http://127.0.0.1:{port}/ui/").status_code == 404
        assert httpx.get(f"http://127.0.0.1:{port}/subjects").status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_serve_with_no_auth_needs_no_login(tmp_path):
    from tests.test_architecture import _ready_ports

    process = subprocess.Popen(
        [sys.executable, "-m", "meshgate.cli", "serve", "--no-auth"]
        + ["--grpc-port", "0", "--http-port", "0", "--data-dir", str(tmp_path)],
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        port = _ready_ports(process)["http_port"]
        deadline = time.monotonic() + 10
        response = httpx.get(f"http://127.0.0.1:{port}/ui/")
        while response.status_code != 200 and time.monotonic() < deadline:
            response = httpx.get(f"http://127.0.0.1:{port}/ui/")
        assert response.status_code == 200 and "anonymous" in response.text
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_diff_lists_the_confluent_rules_and_metadata_that_changed(sign_in, console_site):
    from registry.contract import ContractMetadata, QualityRule

    service, subject = console_site.server.service, "rules.Order"
    schema = '{"type": "record", "name": "Order", "fields": [{"name": "amount", "type": "double"}]}'
    client_rule = {"name": "small", "kind": "CONDITION", "mode": "READ", "type": "CEL", "expr": "true"}
    service.register(
        subject,
        schema,
        "AVRO",
        metadata=ContractMetadata(
            owner_domain="rules", quality_rules=[QualityRule("amount", "min", value=0)]
        ),
        rule_set={"domainRules": [client_rule]},
    )
    service.register(
        subject,
        schema.replace(
            '"double"}', '"double"}, {"name": "note", "type": ["null", "string"], "default": null}'
        ),
        "AVRO",
        metadata=ContractMetadata(owner_domain="sales"),
        rule_set={"domainRules": [{**client_rule, "expr": "false"}]},
    )

    page = sign_in("billing").get(f"/ui/diff/{subject}", params={"from": 1, "to": 2}).text

    items = re.findall(r'<li class="(\w+)"><b>(\w+)</b> <code>([^<]*)</code>', page)
    assert items == [
        ("warning", "WRITE_CONDITION_REMOVED", "ruleSet.domainRules.meshgate_min_amount"),
        ("note", "RULE_CHANGED", "ruleSet.domainRules.small"),
        ("note", "METADATA_CHANGED", "metadata.properties.owner"),
    ]
    assert "expr: &#39;true&#39; -&gt; &#39;false&#39;" in page


def test_a_level_or_mode_for_a_subject_outside_the_grammar_is_refused_and_nothing_stored(
    sign_in, console_site
):
    """The console calls the service directly (no REST or gRPC edge): ``bad.%FF`` (read as
    ``bad.\\ufffd``), a space or 300 characters never become a subject's setting."""
    service = console_site.server.service
    admin = sign_in("admin")
    csrf = _csrf(admin.get(CHECKOUT_PATH).text)
    for path, subject in [("bad.%FF", "bad.\ufffd"), ("bad%20name", "bad name"), ("a" * 300, "a" * 300)]:
        for action, field, value in [("config", "level", "NONE"), ("mode", "mode", "READONLY")]:
            response = admin.post(f"/ui/{action}/{path}", data={"csrf": csrf, field: value})
            assert response.status_code == 422, (action, path, response.status_code)
            assert "Traceback" not in response.text
        assert (
            service.get_config(subject).level == service.get_config().level
        )  # the global one: none of its own
        assert service.get_mode(subject) == service.get_mode()
