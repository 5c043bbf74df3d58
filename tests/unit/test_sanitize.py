"""Text that leaves the app (dead-letter reasons and descriptions, the dead-letter tool's output, log lines) is
printable, encodable, bounded and free of secrets and buyer data, and still says what it said."""

from __future__ import annotations

import io
import json
import re
from types import SimpleNamespace
from typing import Any

import pytest

from shared.messaging import MAX_DESCRIPTION, MAX_REASON, InboundMessage, Settlement
from shared.sanitize import MAX_SCAN, MIN_LIMIT, REDACTED, public_text, redact, safe_text
from shared.servicebus.deadletters import DeadLetters, describe
from shared.servicebus.deadletters.cli import main
from shared.servicebus.settlement import run_and_settle
from tests.unit.test_deadletters import QUEUE, FakeBus, FakeMessage
from tests.unit.test_deadletters import app_settings as app_settings  # the fixture, shared
from tests.unit.test_settlement import Actions, Message

LONE_SURROGATE = "\ud800"
ANSI = "\x1b[2J\x1b[31mALERT\x1b[0m"
RTL_OVERRIDE = "\u202e"
ONE_MB = 1024 * 1024
MARKER = re.compile(r"… \(\+(\d+) chars\)$")


def encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- safe_text ------------------------------------------------------------------------------------------
def test_a_lone_surrogate_becomes_a_visible_escape_that_utf8_can_encode() -> None:
    """The character no encoder accepts is written as \\ud800; the text around it stays as it was."""
    text = safe_text(f"seller A1{LONE_SURROGATE}B2", MAX_REASON)
    assert text == "seller A1\\ud800B2"
    assert encodable(text)


def test_ansi_escape_sequences_cannot_reach_a_terminal() -> None:
    """ESC becomes \\x1b, so a sequence that would clear the screen or colour it is shown, not obeyed."""
    text = safe_text(ANSI, 200)
    assert "\x1b" not in text
    assert text == "\\x1b[2J\\x1b[31mALERT\\x1b[0m"


def test_nul_cr_and_lf_are_escaped_so_no_line_can_be_forged() -> None:
    """NUL, CR and LF become \\x00, \\r and \\n: one value stays one line."""
    assert safe_text("id\x00\r\nINFO forged line", 200) == "id\\x00\\r\\nINFO forged line"


def test_keeping_newlines_keeps_only_line_feeds() -> None:
    """Tracebacks keep their lines; CR and ESC are still escaped in them."""
    assert safe_text("line 1\nline\r2\x1b", 200, keep_newlines=True) == "line 1\nline\\r2\\x1b"


def test_bidirectional_overrides_and_invisible_characters_are_shown() -> None:
    """RTL override, zero-width space, BOM and line separator become escapes; ordinary non-ASCII stays."""
    text = safe_text(f"Stra\u00dfe {RTL_OVERRIDE}gnp.exe\u200b\ufeff\u2028 \u6771\u4eac", 200)
    assert text == "Stra\u00dfe \\u202egnp.exe\\u200b\\ufeff\\u2028 \u6771\u4eac"


def test_a_1_mb_string_is_capped_with_a_marker_that_counts_what_was_left_out() -> None:
    """The result fits the limit exactly, starts like the original and says how much is missing."""
    original = "A" * ONE_MB
    text = safe_text(original, 1000)
    marker = MARKER.search(text)
    assert len(text) == 1000
    assert marker is not None
    kept = text[: marker.start()]
    assert kept == "A" * len(kept)
    assert len(kept) + int(marker.group(1)) == ONE_MB


def test_the_cap_never_splits_an_escape() -> None:
    """A text of control characters is cut between escapes, and still within the limit."""
    text = safe_text("\x1b" * 500, 100)
    kept = MARKER.sub("", text)
    assert len(text) <= 100
    assert re.fullmatch(r"(\\x1b)+", kept)
    assert int(MARKER.search(text).group(1)) == 500 - kept.count("\\x1b")  # type: ignore[union-attr]


def test_short_printable_text_comes_back_unchanged() -> None:
    """Reason codes, ids and SKUs with punctuation and accents pass untouched."""
    for value in ("UnknownSku", "113-4567890-1234567", "SKU ' # & + / ? % é", "Amazon.de"):
        assert safe_text(value, MIN_LIMIT) == value


def test_values_that_are_not_text_are_shown_without_raising() -> None:
    """Bytes that are not UTF-8 are escaped; an object whose str() raises is named instead."""

    class Broken:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert safe_text(b"ok \xff", 100) == "ok \\xff"
    assert safe_text(Broken(), 100) == "<Broken that cannot be shown>"


def test_a_limit_too_small_for_the_marker_is_refused() -> None:
    """Below MIN_LIMIT a cut could not say how much it left out."""
    with pytest.raises(ValueError, match="at least"):
        safe_text("x", MIN_LIMIT - 1)


# --- redact ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("'x-amz-access-token': 'Atza|IwEBIAbc-123_xyz'", "IwEBIAbc-123_xyz"),
        ("token Atza|IwEBIAbc-123 in prose", "IwEBIAbc-123"),
        ("grant_type=refresh_token&refresh_token=Atzr|IwEBIRefresh&client_id=amzn1.app", "IwEBIRefresh"),
        ("client_id=amzn1.app&client_secret=amzn1.oa2-cs.v1.s3cr3t&x=1", "amzn1.oa2-cs.v1.s3cr3t"),
        ('{"access_token":"opaque-token-1","token_type":"bearer","expires_in":3600}', "opaque-token-1"),
        ("{'refresh_token': 'sandbox-refresh-token', 'client_id': 'c'}", "sandbox-refresh-token"),
        ("Authorization: Bearer opaque.token.value", "opaque.token.value"),
        ("headers={'Authorization': 'Basic dXNlcjpwYXNz'}", "dXNlcjpwYXNz"),
        ("sent with bearer Zm9vYmFyYmF6", "Zm9vYmFyYmF6"),
        ("token eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJkdiJ9.c2lnbmF0dXJl here", "eyJhbGciOiJSUzI1NiJ9"),
        (
            "Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=k3y+/Abc=",
            "k3y+/Abc=",
        ),
        ("AccountName=devstoreaccount1;AccountKey=Eby8vdM02xNOcqF+lUwJ==;TableEndpoint=x", "Eby8vdM02xNOcqF"),
        ("https://acct.blob.core.windows.net/c/b?sv=2021-08-06&sig=AbC%2Bd%3D&se=2026", "AbC%2Bd%3D"),
        ("SharedAccessSignature sr=sb%3a%2f%2fns&sig=xyz&se=1&skn=Root", "xyz"),
        ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ('{"SecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}', "wJalrXUtnFEMI"),
    ],
)
def test_secrets_are_redacted_wherever_they_are_written(text: str, secret: str) -> None:
    """Tokens, client secrets, connection-string keys, SAS signatures and AWS keys do not survive."""
    redacted = redact(text)
    assert secret not in redacted
    assert REDACTED in redacted


@pytest.mark.parametrize(
    ("text", "personal"),
    [
        ('{"buyerName": "Jane Doe", "orderId": "1"}', "Jane Doe"),
        ("{'buyerEmail': 'x7k@marketplace.amazon.com'}", "x7k@marketplace"),
        ("{'BuyerEmail': 'x7k@marketplace.amazon.com', 'BuyerName': 'Jane'}", "Jane"),
        ("{'name': \"Mary O'Brien\", 'addressLine1': '1 Main St'}", "O'Brien"),
        ("{'addressLine2': 'Apt 4', 'addressLine3': 'Rear'}", "Apt 4"),
        ("{'city': 'Seattle', 'districtOrCounty': 'King', 'stateOrRegion': 'WA'}", "Seattle"),
        ("{'postalCode': '98101', 'DestinationPostalCode': '98102'}", "98101"),
        ("{'phone': '+1 206 555 0100'}", "555 0100"),
        ("{'buyerCompanyName': 'Acme GmbH', 'companyName': 'Acme'}", "Acme"),
        ('{"firstname": "Jane", "lastname": "Doe", "fullname": "Jane Doe"}', "Doe"),
        ('{"emailaddress1": "jane@example.com", "telephone1": "555-0100"}', "555-0100"),
        ('{"shipto_line1": "1 Main St", "shipto_name": "J. Doe", "address1_city": "Seattle"}', "Main St"),
        ("Address(name='Jane Doe', city='Seattle')", "Jane Doe"),
        ('{"Body": "{\\"buyerName\\": \\"Jane Doe\\"}"}', "Jane Doe"),
        ("mail jane.doe+amazon@example.co.uk about it", "jane.doe"),
        ("$filter=emailaddress1%20eq%20%27jane%40example.com%27", "example.com"),
    ],
)
def test_buyer_data_is_redacted_in_json_repr_and_free_text(text: str, personal: str) -> None:
    """Values of the keys Amazon and Dataverse carry buyer data under, and email addresses anywhere."""
    assert personal not in redact(text)


def test_pprint_splitting_a_long_name_into_pieces_leaves_no_piece() -> None:
    """pprint writes a long string as adjacent literals on several lines; every one of them goes."""
    import pprint

    name = "Maximilian Alexander Konstantin von Hohenzollern-Sigmaringen"
    text = pprint.pformat({"payload": {"buyer": {"buyerName": name, "buyerEmail": "b@c.de"}}}, width=40)
    assert name not in text  # pprint did split it
    redacted = redact(text)
    assert not [part for part in name.split() if part in redacted]


def test_redaction_keeps_the_rest_of_the_line_readable() -> None:
    """Keys, quotes, order ids, URLs and the non-secret fields stay as they were."""
    line = (
        "{'orderId': '113-4567890-1234567', 'buyerName': 'Jane Doe', 'x-amz-access-token': 'Atza|abc', "
        "'host': 'sellingpartnerapi-na.amazon.com'}"
    )
    assert redact(line) == (
        "{'orderId': '113-4567890-1234567', 'buyerName': '[redacted]', 'x-amz-access-token': '[redacted]', "
        "'host': 'sellingpartnerapi-na.amazon.com'}"
    )


@pytest.mark.parametrize(
    "line",
    [
        "Order 113-4567890-1234567: transient failure, messages rescheduled: SpApiThrottled",
        "Order sync: applied=3, duplicate=1, messages=5, written=2",
        'HTTP Request: POST https://api.amazon.com/auth/o2/token "HTTP/1.1 200 OK"',
        "Order 113-1: SKUs with no Dataverse product (productnumber): GIFT-CARD-DE-25; order held",
        "Key Vault has no secret dataverse-client-secret; using the environment",
    ],
)
def test_ordinary_app_lines_pass_unchanged(line: str) -> None:
    """Ids, counts, URLs without credentials and setting names are not mistaken for secrets."""
    assert redact(line) == line


def test_public_text_redacts_a_value_cut_short_by_the_scan_limit() -> None:
    """A 1 MB text is scanned up to MAX_SCAN; a quoted name that runs past the cut is still redacted."""
    text = "{'orderId': '1', 'buyerName': '" + "Jane Doe " * (ONE_MB // 9)
    shown = public_text(text, 4000)
    assert shown.startswith("{'orderId': '1', 'buyerName': '[redacted]'… (+")
    assert int(MARKER.search(shown).group(1)) > ONE_MB - MAX_SCAN  # type: ignore[union-attr]


# --- dead-letter reasons and descriptions ---------------------------------------------------------------
MESSAGE = InboundMessage("m-1", b"{}")


def test_settlement_text_is_encodable_escaped_and_within_service_bus_limits() -> None:
    """A description quoting a stranger's seller id (surrogate, ANSI, CR/LF, 1 MB) is safe to send."""
    seller = f"{LONE_SURROGATE}{ANSI}\r\n" + "S" * ONE_MB
    for make in (Settlement.dead_letter, Settlement.abandon, Settlement.reschedule):
        settlement = make(MESSAGE, "ForeignSeller", f"notification n-1 is for seller {seller}")
        assert settlement.reason == "ForeignSeller"
        assert settlement.description is not None
        assert settlement.description.startswith("notification n-1 is for seller \\ud800\\x1b[2J")
        assert len(settlement.description) <= MAX_DESCRIPTION
        assert encodable(settlement.description)
        assert "\x1b" not in settlement.description
        assert "\n" not in settlement.description


def test_settlement_text_carries_no_buyer_data_or_token() -> None:
    """An error message that quoted a buyer's email or a token does not reach the dead-letter queue."""
    settlement = Settlement.dead_letter(
        MESSAGE, "DataverseRejected" + "!" * 500, "duplicate emailaddress1 jane@example.com; Bearer abc.def"
    )
    assert settlement.description == "duplicate emailaddress1 [redacted]; Bearer [redacted]"
    assert settlement.reason == "DataverseRejected" + "!" * 89 + "… (+411 chars)"  # MAX_REASON in all


class AmqpLikeActions(Actions):
    """Settlement calls that encode their text as the AMQP encoder does: strict UTF-8."""

    def deadletter(
        self,
        message: Message,
        deadletter_reason: str | None = None,
        deadletter_error_description: str | None = None,
    ) -> None:
        for text in (deadletter_reason, deadletter_error_description):
            (text or "").encode("utf-8")  # raises on a lone surrogate, as sending would
        super().deadletter(message, deadletter_reason, deadletter_error_description)


def test_a_dead_letter_quoting_a_lone_surrogate_is_settled_not_redelivered() -> None:
    """The settlement call succeeds, so the message is dead-lettered once instead of coming back."""
    actions = AmqpLikeActions()

    def flow(inbound: list[InboundMessage]) -> Any:
        (message,) = inbound
        return SimpleNamespace(
            settlements=[Settlement.dead_letter(message, "ForeignSeller", f"seller {LONE_SURROGATE}")]
        )

    run_and_settle([Message("m-1")], actions, flow)
    assert actions.calls == [("deadletter", "m-1", ("ForeignSeller", "seller \\ud800"))]


# --- the dead-letter tool's output -----------------------------------------------------------------------
HOSTILE_REASON = f"{ANSI}Pwned{LONE_SURROGATE}"
HOSTILE_DESCRIPTION = (
    "first\r\nINFO forged line " + RTL_OVERRIDE + "buyerEmail: jane@example.com " + "x" * 5000
)
HOSTILE_ID = f"id-{RTL_OVERRIDE}fdp.exe\x00"


def hostile_dead_letter() -> FakeMessage:
    return FakeMessage(
        sequence_number=7,
        body=b"not json",
        message_id=HOSTILE_ID,
        dead_letter_reason=HOSTILE_REASON,
        dead_letter_error_description=HOSTILE_DESCRIPTION,
        delivery_count=1,
    )


def test_dead_letters_read_from_the_broker_are_safe_to_show() -> None:
    """Reason, description and message id of a listed dead letter are escaped, capped and redacted."""
    letter = describe(hostile_dead_letter())
    assert letter.reason == "\\x1b[2J\\x1b[31mALERT\\x1b[0mPwned\\ud800"
    assert letter.message_id == "id-\\u202efdp.exe\\x00"
    assert letter.description is not None
    assert letter.description.startswith("first\\r\\nINFO forged line \\u202ebuyerEmail: [redacted] xxx")
    assert len(letter.description) <= MAX_DESCRIPTION


def run_cli(*argv: str) -> str:
    out = io.StringIO()
    bus = FakeBus()
    bus.add(hostile_dead_letter())
    code = main(list(argv), connect=lambda settings, limits: DeadLetters(bus, queues=[QUEUE]), out=out)
    assert code == 0
    return out.getvalue()


@pytest.mark.usefixtures("app_settings")
def test_the_list_table_prints_escapes_not_control_characters() -> None:
    """No ESC, CR, NUL, override or surrogate reaches the terminal, and each dead letter is two lines."""
    out = run_cli("list")
    assert encodable(out)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u202e\ud800]", out)
    assert "jane@example.com" not in out
    assert "\\x1b[31mALERT" in out
    assert len(out.splitlines()) == 5  # title, header, the dead letter, its description, the summary


@pytest.mark.usefixtures("app_settings")
def test_the_json_listing_is_valid_and_escaped() -> None:
    """--json gives JSON a UTF-8 reader accepts, with the same escaped fields the table shows."""
    out = run_cli("list", "--json")
    (letter,) = json.loads(out.encode("utf-8"))["queues"][0]["messages"]
    assert letter["reason"] == "\\x1b[2J\\x1b[31mALERT\\x1b[0mPwned\\ud800"
    assert letter["message_id"] == "id-\\u202efdp.exe\\x00"
    assert "jane@example.com" not in out
