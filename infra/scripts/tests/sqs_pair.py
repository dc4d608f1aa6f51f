"""The differential harness: one logical SQS queue made twice in one moto backend, once
with moto's own code and once with the fast path (infra/scripts/moto_sqs_fastpath.py),
every call sent to both in lockstep through boto3 and the two answers compared.

Message ids and receipt handles differ between the two by nature: ids are matched as a
one-to-one map (the n-th new id of one side must stay paired with the n-th of the other),
receipt handles are kept per side by message body and chosen by role (the latest, an
earlier one, one never issued). Everything else must be equal. Under `Clock` (moto's
clock stopped, moved on by the script) both sides see the same instant, so timestamps and
visibility deadlines agree to the microsecond; without it (long polls) timestamps must
agree within a tolerance.
"""

import datetime
import os
import sys
import threading
from typing import Any

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_ENDPOINT_URL", None)  # in-process moto, never a running emulator

import boto3  # noqa: E402
import moto_sqs_fastpath as fastpath  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.sqs.models import sqs_backends  # noqa: E402
from unittest import mock  # noqa: E402

SIDES = ("orig", "fast")
BOGUS_HANDLE = "x" * 185


class Clock:
    """moto's clock (moto.core.utils.utcnow, behind every timestamp and deadline of its
    SQS) stopped at a fixed instant; `advance` moves it on, as a sleep would."""

    def __init__(self):
        self.now = datetime.datetime(2026, 1, 1, 12, 0, 0)
        self._patch = mock.patch("moto.core.utils.utcnow", lambda: self.now)
        self.running = False

    def advance(self, seconds: float) -> None:
        self.now += datetime.timedelta(seconds=seconds)

    def __enter__(self):
        if not self.running:
            self._patch.start()
            self.running = True
        return self

    def __exit__(self, *exc):
        if self.running:
            self._patch.stop()
            self.running = False


class Mismatch(AssertionError):
    """moto's code and the fast path answered the same call differently."""


def backend():
    return sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]


def client():
    return boto3.client("sqs", region_name="us-east-1")


class Pair:
    """A queue (and optionally its DLQ) on both sides; the calls compare the answers."""

    def __init__(self, sqs, name: str, attributes: dict | None = None,
                 max_receive_count: int | None = None, fifo: bool = False,
                 tolerance_ms: int = 0):
        self.sqs = sqs
        self.tolerance_ms = tolerance_ms
        self.fifo = fifo
        self.urls: dict[str, str] = {}
        self.dlq_urls: dict[str, str] = {}
        self.handles: dict[str, dict[str, list[str]]] = {s: {} for s in SIDES}
        self.ids: dict[str, str] = {}  # orig id -> fast id
        self.ids_back: dict[str, str] = {}
        suffix = ".fifo" if fifo else ""
        fifo_attrs = {"FifoQueue": "true"} if fifo else {}
        for side in SIDES:
            fastpath.enabled = side == "fast"
            try:
                attrs = dict(attributes or {}, **fifo_attrs)
                if max_receive_count is not None:
                    dlq = sqs.create_queue(QueueName=f"{name}-{side}-dlq{suffix}",
                                           Attributes=fifo_attrs)["QueueUrl"]
                    arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])
                    attrs["RedrivePolicy"] = (
                        '{"deadLetterTargetArn": "%s", "maxReceiveCount": "%d"}'
                        % (arn["Attributes"]["QueueArn"], max_receive_count)
                    )
                    self.dlq_urls[side] = dlq
                self.urls[side] = sqs.create_queue(QueueName=f"{name}-{side}{suffix}",
                                                   Attributes=attrs)["QueueUrl"]
            finally:
                fastpath.enabled = True
        # The sides are what they claim: moto's list, or the index (never for FIFO).
        for side in SIDES:
            for url in filter(None, (self.urls[side], self.dlq_urls.get(side))):
                queue = backend().queues[url.split("/")[-1]]
                indexed = fastpath._index(queue) is not None
                if indexed != (side == "fast" and not fifo):
                    raise AssertionError(f"{url}: indexed={indexed}")

    # -- comparison ------------------------------------------------------------------

    def _pair_id(self, orig_id: str, fast_id: str) -> None:
        if self.ids.get(orig_id, fast_id) != fast_id or self.ids_back.get(fast_id, orig_id) != orig_id:
            raise Mismatch(f"message {orig_id} of moto paired with {self.ids.get(orig_id)}, now {fast_id}")
        self.ids[orig_id] = fast_id
        self.ids_back[fast_id] = orig_id

    def _equal(self, what: str, orig: Any, fast: Any) -> None:
        if orig != fast:
            raise Mismatch(f"{what}: moto {orig!r}, fast path {fast!r}")

    def _call(self, method: str, side_kwargs) -> dict[str, Any]:
        """Calls `method` on both sides; an error is part of the answer (its code)."""
        out = {}
        for side in SIDES:
            try:
                out[side] = getattr(self.sqs, method)(**side_kwargs(side))
                out[side].pop("ResponseMetadata", None)
            except ClientError as e:
                out[side] = {"Error": e.response["Error"]["Code"]}
        return out

    def _compare_messages(self, what: str, orig: list, fast: list, dlq: bool) -> list[str]:
        self._equal(f"{what}: bodies", [m["Body"] for m in orig], [m["Body"] for m in fast])
        for a, b in zip(orig, fast):
            self._pair_id(a["MessageId"], b["MessageId"])
            for key in ("MD5OfBody", "MessageAttributes", "MD5OfMessageAttributes"):
                self._equal(f"{what}: {a['Body']} {key}", a.get(key), b.get(key))
            attrs_a, attrs_b = a.get("Attributes"), b.get("Attributes")
            self._equal(f"{what}: {a['Body']} attribute names",
                        sorted(attrs_a or {}), sorted(attrs_b or {}))
            for key, value in (attrs_a or {}).items():
                if key.endswith("Timestamp"):
                    if abs(int(value) - int(attrs_b[key])) > self.tolerance_ms:
                        raise Mismatch(f"{what}: {a['Body']} {key}: moto {value}, fast path {attrs_b[key]}")
                elif key not in ("SequenceNumber",):
                    self._equal(f"{what}: {a['Body']} {key}", value, attrs_b[key])
            for side, m in (("orig", a), ("fast", b)):
                seen = self.handles[side].setdefault(m["Body"], [])
                if m["ReceiptHandle"] in seen:
                    raise Mismatch(f"{what}: {side} reissued a receipt handle of {m['Body']}")
                seen.append(m["ReceiptHandle"])
        return [m["Body"] for m in orig]

    def _handle(self, side: str, body: str, role: str) -> str:
        handles = self.handles[side].get(body, [])
        if role == "latest":
            return handles[-1]
        if role == "stale":
            return handles[-2]
        return BOGUS_HANDLE

    # -- the calls -------------------------------------------------------------------

    def send(self, body: str, **kwargs) -> None:
        out = self._call("send_message", lambda s: dict(QueueUrl=self.urls[s], MessageBody=body, **kwargs))
        self._equal(f"send {body}: keys", sorted(out["orig"]), sorted(out["fast"]))
        if "Error" in out["orig"]:
            self._equal(f"send {body}", out["orig"], out["fast"])
            return
        self._pair_id(out["orig"]["MessageId"], out["fast"]["MessageId"])
        self._equal(f"send {body}: MD5", out["orig"]["MD5OfMessageBody"], out["fast"]["MD5OfMessageBody"])

    def send_batch(self, entries: list[dict]) -> None:
        out = self._call("send_message_batch", lambda s: dict(QueueUrl=self.urls[s], Entries=entries))
        for key in ("Failed", "Error"):
            self._equal(f"send batch: {key}", out["orig"].get(key), out["fast"].get(key))
        for a, b in zip(out["orig"].get("Successful", []), out["fast"].get("Successful", [])):
            self._equal("send batch: entry", a["Id"], b["Id"])
            self._pair_id(a["MessageId"], b["MessageId"])

    def receive(self, dlq: bool = False, parallel: bool = False, **kwargs) -> list[str]:
        """Receives on both sides (at the same time when `parallel`: long polls); returns
        the bodies received, in order."""
        urls = self.dlq_urls if dlq else self.urls
        call = lambda s: dict(QueueUrl=urls[s], **kwargs)  # noqa: E731
        if parallel:
            out: dict[str, Any] = {}

            def run(side):
                out[side] = self.sqs.receive_message(**call(side))

            threads = [threading.Thread(target=run, args=(s,)) for s in SIDES]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        else:
            out = self._call("receive_message", call)
        self._equal("receive: error", out["orig"].get("Error"), out["fast"].get("Error"))
        return self._compare_messages("receive" + (" (DLQ)" if dlq else ""),
                                      out["orig"].get("Messages", []),
                                      out["fast"].get("Messages", []), dlq)

    def _batch_result(self, what: str, out: dict) -> None:
        self._equal(f"{what}: error", out["orig"].get("Error"), out["fast"].get("Error"))
        self._equal(f"{what}: successful", out["orig"].get("Successful"), out["fast"].get("Successful"))
        strip = lambda fs: [{k: v for k, v in f.items() if k != "Message"} for f in fs]  # noqa: E731
        self._equal(f"{what}: failed", strip(out["orig"].get("Failed", [])), strip(out["fast"].get("Failed", [])))

    def delete(self, body: str, role: str = "latest", dlq: bool = False) -> None:
        urls = self.dlq_urls if dlq else self.urls
        out = self._call("delete_message", lambda s: dict(
            QueueUrl=urls[s], ReceiptHandle=self._handle(s, body, role)))
        self._equal(f"delete {body} ({role})", out["orig"], out["fast"])

    def delete_batch(self, items: list[tuple[str, str]]) -> None:
        out = self._call("delete_message_batch", lambda s: dict(QueueUrl=self.urls[s], Entries=[
            {"Id": f"e{i}", "ReceiptHandle": self._handle(s, body, role)}
            for i, (body, role) in enumerate(items)]))
        self._batch_result(f"delete batch {items}", out)

    def change_visibility(self, body: str, timeout: int, role: str = "latest") -> None:
        out = self._call("change_message_visibility", lambda s: dict(
            QueueUrl=self.urls[s], ReceiptHandle=self._handle(s, body, role), VisibilityTimeout=timeout))
        self._equal(f"change visibility {body} ({role})", out["orig"], out["fast"])

    def change_visibility_batch(self, items: list[tuple[str, str, int]]) -> None:
        out = self._call("change_message_visibility_batch", lambda s: dict(QueueUrl=self.urls[s], Entries=[
            {"Id": f"e{i}", "ReceiptHandle": self._handle(s, body, role), "VisibilityTimeout": t}
            for i, (body, role, t) in enumerate(items)]))
        self._batch_result(f"change visibility batch {items}", out)

    def counts(self, dlq: bool = False) -> dict[str, str]:
        urls = self.dlq_urls if dlq else self.urls
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
                 "ApproximateNumberOfMessagesDelayed"]
        out = self._call("get_queue_attributes", lambda s: dict(QueueUrl=urls[s], AttributeNames=names))
        self._equal("queue attributes", out["orig"], out["fast"])
        every = self._call("get_queue_attributes", lambda s: dict(QueueUrl=urls[s], AttributeNames=["All"]))
        drop = ("QueueArn", "CreatedTimestamp", "LastModifiedTimestamp", "RedrivePolicy")
        self._equal("queue attributes (All)",
                    {k: v for k, v in every["orig"]["Attributes"].items() if k not in drop},
                    {k: v for k, v in every["fast"]["Attributes"].items() if k not in drop})
        return out["orig"]["Attributes"]

    def purge(self) -> None:
        out = self._call("purge_queue", lambda s: dict(QueueUrl=self.urls[s]))
        self._equal("purge", out["orig"], out["fast"])
