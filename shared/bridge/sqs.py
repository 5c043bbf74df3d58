"""The Amazon SQS connector: the only code that talks to SQS (boto3, imported on first use).

Three operations, each as Amazon documents it:

- `receive`: ReceiveMessage with long polling (WaitTimeSeconds 0-20), up to 10 messages, every system
  attribute (MessageSystemAttributeNames, and the older AttributeNames for endpoints that predate it) and every
  message attribute, and an explicit VisibilityTimeout chosen by the caller.
- `delete`: DeleteMessageBatch, 10 entries per call. SQS answers per entry (Successful / Failed), so a partly
  failed batch is reported entry by entry; a call that fails as a whole reports every entry as failed.
- `release`: ChangeMessageVisibilityBatch with VisibilityTimeout 0, so messages we could not forward are
  received again at once instead of after their visibility timeout.

Long polls and the short control calls use two boto3 clients: a ReceiveMessage may legitimately take 20
seconds, a delete must not, and botocore's timeouts are per client.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol

from shared.errors import ConfigurationError, TransientError

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageTypeDef

    from shared.config import Settings

log = logging.getLogger(__name__)

MAX_MESSAGES = 10  # ReceiveMessage MaxNumberOfMessages and every *Batch call take at most 10
MAX_WAIT_SECONDS = 20  # the longest long poll SQS allows
RECEIVE_READ_TIMEOUT = MAX_WAIT_SECONDS + 10.0  # a long poll answers after at most 20 s, plus the network
CONTROL_READ_TIMEOUT = 5.0
CONNECT_TIMEOUT = 3.0

# Error codes that will not go away by trying again: the queue URL, the keys or the IAM policy are wrong.
_CONFIGURATION_CODES = frozenset(
    {
        "AWS.SimpleQueueService.NonExistentQueue",
        "QueueDoesNotExist",
        "AccessDenied",
        "AccessDeniedException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "InvalidAddress",
    }
)


class SqsUnavailable(TransientError):
    """SQS could not be reached or refused the call for now (throttling, 5xx, network); try again later."""

    reason = "SqsUnavailable"


class SqsRefused(ConfigurationError):
    """SQS refuses us for good: the queue does not exist, or the keys or the IAM policy are wrong."""

    reason = "SqsRefused"


@dataclass(frozen=True)
class SqsMessage:
    """One received message. `attributes` are SQS's system attributes (SentTimestamp, ApproximateReceiveCount,
    ...), `message_attributes` the sender's attributes by name (String and Number values as text, Binary as
    bytes)."""

    message_id: str
    receipt_handle: str = field(repr=False)
    body: str = field(repr=False)  # never in a repr: other notification types may carry personal data
    attributes: Mapping[str, str] = field(default_factory=dict)
    message_attributes: Mapping[str, str | bytes] = field(default_factory=dict)

    @property
    def sent_at(self) -> float | None:
        """When the message was sent to SQS, in seconds since the epoch (SentTimestamp is in milliseconds)."""
        value = self.attributes.get("SentTimestamp")
        return int(value) / 1000.0 if value and value.isdigit() else None


@dataclass(frozen=True)
class EntryFailure:
    """A batch entry SQS did not apply: its error code and whether SQS blames the request (sender fault)."""

    message_id: str
    code: str
    sender_fault: bool = True


@dataclass(frozen=True)
class BatchOutcome:
    """Per-message answer of a *Batch call: the message ids SQS applied and those it did not."""

    succeeded: tuple[str, ...] = ()
    failed: tuple[EntryFailure, ...] = ()


class SqsQueue(Protocol):
    """What the bridge needs from SQS (the boto3 connector below, or a test's fake)."""

    def receive(
        self, *, max_messages: int, wait_seconds: int, visibility_timeout: int
    ) -> list[SqsMessage]: ...

    def delete(self, messages: Sequence[SqsMessage]) -> BatchOutcome: ...

    def release(self, messages: Sequence[SqsMessage]) -> BatchOutcome: ...

    def close(self) -> None: ...


class Boto3SqsQueue:
    """SqsQueue on boto3. Errors come out as SqsUnavailable (transient) or ConfigurationError (permanent),
    naming the operation and AWS's error code, never a message body."""

    def __init__(self, queue_url: str, *, poll_client: SQSClient, control_client: SQSClient) -> None:
        self.queue_url = queue_url
        self._poll = poll_client
        self._control = control_client

    @classmethod
    def from_settings(cls, settings: Settings) -> Boto3SqsQueue:
        if not settings.sqs_queue_url:
            raise ConfigurationError("SQS_QUEUE_URL is not set")
        return cls(
            settings.sqs_queue_url,
            poll_client=sqs_client(settings, read_timeout=RECEIVE_READ_TIMEOUT, max_attempts=3),
            control_client=sqs_client(settings, read_timeout=CONTROL_READ_TIMEOUT, max_attempts=2),
        )

    def receive(self, *, max_messages: int, wait_seconds: int, visibility_timeout: int) -> list[SqsMessage]:
        if not 1 <= max_messages <= MAX_MESSAGES or not 0 <= wait_seconds <= MAX_WAIT_SECONDS:
            raise ValueError("ReceiveMessage takes 1-10 messages and a wait of 0-20 seconds")
        answer = _call(
            "ReceiveMessage",
            lambda: self._poll.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=wait_seconds,
                VisibilityTimeout=visibility_timeout,
                MessageSystemAttributeNames=["All"],
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ),
        )
        return [_message_of(raw) for raw in answer.get("Messages", [])]

    def delete(self, messages: Sequence[SqsMessage]) -> BatchOutcome:
        def delete_chunk(chunk: Sequence[SqsMessage]) -> Any:
            entries = [
                {"Id": f"m{index}", "ReceiptHandle": message.receipt_handle}
                for index, message in enumerate(chunk)
            ]
            return self._control.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]

        return self._batched("DeleteMessageBatch", messages, delete_chunk)

    def release(self, messages: Sequence[SqsMessage]) -> BatchOutcome:
        def release_chunk(chunk: Sequence[SqsMessage]) -> Any:
            entries = [
                {"Id": f"m{index}", "ReceiptHandle": message.receipt_handle, "VisibilityTimeout": 0}
                for index, message in enumerate(chunk)
            ]
            return self._control.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)  # type: ignore[arg-type]

        return self._batched("ChangeMessageVisibilityBatch", messages, release_chunk)

    def close(self) -> None:
        self._poll.close()
        self._control.close()

    def _batched(
        self, operation: str, messages: Sequence[SqsMessage], call: Callable[[Sequence[SqsMessage]], Any]
    ) -> BatchOutcome:
        succeeded: list[str] = []
        failed: list[EntryFailure] = []
        for start in range(0, len(messages), MAX_MESSAGES):
            chunk = messages[start : start + MAX_MESSAGES]
            try:
                answer = _call(operation, partial(call, chunk))
            except (SqsUnavailable, SqsRefused) as exc:
                # The whole call failed: none of its entries is known to be applied.
                failed.extend(
                    EntryFailure(message.message_id, exc.code or type(exc).__name__, sender_fault=False)
                    for message in chunk
                )
                continue
            ok, bad = _entry_outcomes(chunk, answer)
            succeeded.extend(ok)
            failed.extend(bad)
        return BatchOutcome(tuple(succeeded), tuple(failed))


def sqs_client(settings: Settings, *, read_timeout: float, max_attempts: int) -> SQSClient:
    """A boto3 SQS client: keys from the settings (Key Vault or environment) or boto3's default chain,
    AWS_REGION, and SQS_ENDPOINT when set (moto in the sandbox and tests)."""
    import boto3
    from botocore.config import Config

    key_id, secret = settings.aws_access_key_id, settings.aws_secret_access_key
    if (key_id is None) != (secret is None):
        raise ConfigurationError("set both AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or neither")
    credentials: dict[str, str] = {}
    if key_id is not None and secret is not None:
        credentials = {
            "aws_access_key_id": key_id.get_secret_value(),
            "aws_secret_access_key": secret.get_secret_value(),
        }
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=read_timeout,
        retries={"mode": "standard", "max_attempts": max_attempts},
    )
    return boto3.client(  # type: ignore[call-overload,no-any-return]
        "sqs",
        region_name=settings.aws_region,
        endpoint_url=settings.sqs_endpoint,
        config=config,
        **credentials,
    )


def _call(operation: str, request: Callable[[], Any]) -> Any:
    """Run one boto3 call, translating its failures into the product's error vocabulary."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return request()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "Unknown"))
        if code in _CONFIGURATION_CODES:
            raise SqsRefused(
                f"SQS {operation} refused: {code} (check SQS_QUEUE_URL, the AWS keys and the IAM policy)",
                code=code,
            ) from None
        raise SqsUnavailable(f"SQS {operation} failed: {code}", code=code) from None
    except NoCredentialsError:
        raise SqsRefused(
            f"SQS {operation}: no AWS credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or give the "
            "app a role)",
            code="NoCredentials",
        ) from None
    except BotoCoreError as exc:
        raise SqsUnavailable(
            f"SQS {operation} failed: {type(exc).__name__}", code=type(exc).__name__
        ) from None


def _entry_outcomes(
    chunk: Sequence[SqsMessage], answer: Mapping[str, Any]
) -> tuple[list[str], list[EntryFailure]]:
    by_entry = {f"m{index}": message for index, message in enumerate(chunk)}
    succeeded = [
        by_entry[entry["Id"]].message_id for entry in answer.get("Successful", []) if entry["Id"] in by_entry
    ]
    failed = [
        EntryFailure(
            by_entry[entry["Id"]].message_id,
            str(entry.get("Code", "Unknown")),
            bool(entry.get("SenderFault")),
        )
        for entry in answer.get("Failed", [])
        if entry["Id"] in by_entry
    ]
    answered = set(succeeded) | {failure.message_id for failure in failed}
    # An entry SQS did not mention at all is not known to be applied.
    failed.extend(
        EntryFailure(message.message_id, "NoAnswer", sender_fault=False)
        for message in chunk
        if message.message_id not in answered
    )
    return succeeded, failed


def _message_of(raw: MessageTypeDef) -> SqsMessage:
    attributes: dict[str, str] = {str(name): str(value) for name, value in raw.get("Attributes", {}).items()}
    message_attributes: dict[str, str | bytes] = {}
    for name, value in raw.get("MessageAttributes", {}).items():
        if value.get("DataType", "").startswith("Binary"):
            message_attributes[name] = bytes(value.get("BinaryValue", b""))
        else:
            message_attributes[name] = str(value.get("StringValue", ""))
    return SqsMessage(
        message_id=raw["MessageId"],
        receipt_handle=raw["ReceiptHandle"],
        body=raw.get("Body", ""),
        attributes=attributes,
        message_attributes=message_attributes,
    )
