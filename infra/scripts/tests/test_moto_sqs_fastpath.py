"""The fast path of moto's SQS (infra/scripts/moto_sqs_fastpath.py) answers every call as
moto's own code does: the same scripted calls go to both (sqs_pair.Pair) and must agree.

    .venv/bin/python -m unittest discover -s infra/scripts/tests -v
"""

import heapq
import random
import threading
import time
import unittest
from unittest import mock

from moto import mock_aws
from moto.sqs.models import Message

import sqs_pair
from sqs_pair import Mismatch, Pair, fastpath

fastpath.install()

ALL = ["All"]


class Differential(unittest.TestCase):
    """Scenarios, each a script of calls run against both sides in lockstep."""

    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.sqs = sqs_pair.client()
        # moto's clock stands still unless a scenario moves it on (`self.sleep`).
        self.clock = sqs_pair.Clock()
        self.clock.__enter__()
        self.sleep = self.clock.advance

    def tearDown(self):
        self.clock.__exit__()
        self.mock.stop()

    # Each scenario is also run under a broken fast path (class Mutants below).

    def scenario_receive_and_delete(self):
        # Given five messages with attributes on a standard queue
        q = Pair(self.sqs, "basic")
        for i in range(5):
            q.send(f"m{i}", MessageAttributes={
                "Custom.kind": {"DataType": "String", "StringValue": f"k{i}"},
                "other": {"DataType": "Number", "StringValue": str(i)}})
        q.send_batch([{"Id": f"b{i}", "MessageBody": f"b{i}"} for i in range(3)])
        self.assertEqual(q.counts()["ApproximateNumberOfMessages"], "8")
        # When three are received (attribute filters), then the rest, then deleted
        got = q.receive(MaxNumberOfMessages=3, AttributeNames=ALL, MessageAttributeNames=["Custom.*"])
        self.assertEqual(got, ["m0", "m1", "m2"])
        self.assertEqual(q.counts()["ApproximateNumberOfMessagesNotVisible"], "3")
        got = q.receive(MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"],
                        MessageAttributeNames=["other"])
        self.assertEqual(got, ["m3", "m4", "b0", "b1", "b2"])
        self.assertEqual(q.receive(MaxNumberOfMessages=10), [])
        # Then deletes of latest, already-deleted and never-issued handles answer alike
        q.delete("m0")
        q.delete("m0")
        q.delete("nothing", role="bogus")
        q.delete_batch([("m1", "latest"), ("m2", "latest"), ("m0", "latest"), ("x", "bogus")])
        counts = q.counts()
        self.assertEqual(counts["ApproximateNumberOfMessagesNotVisible"], "5")

    def scenario_visibility(self):
        # Given messages received with a 1 s visibility timeout
        q = Pair(self.sqs, "vis", attributes={"VisibilityTimeout": "1"})
        for i in range(4):
            q.send(f"v{i}")
        self.assertEqual(q.receive(MaxNumberOfMessages=2, AttributeNames=ALL), ["v0", "v1"])
        q.send("v4")
        # When one is made visible at once, one kept longer, and the timeout passes
        q.change_visibility("v0", 0)
        q.change_visibility("v1", 5)
        q.change_visibility("gone", 5, role="bogus")
        self.sleep(0.001)  # a timeout of 0 is "visible from the next instant on"
        self.assertEqual(q.receive(MaxNumberOfMessages=1, AttributeNames=ALL), ["v0"])
        self.assertEqual(q.counts()["ApproximateNumberOfMessagesNotVisible"], "2")
        self.sleep(1.3)
        # Then the expired one comes back first (moto's order), with its receive count
        got = q.receive(MaxNumberOfMessages=10, AttributeNames=ALL)
        self.assertEqual(got, ["v0", "v2", "v3", "v4"])
        # and an earlier handle still deletes (moto keeps every handle a message had)
        q.delete("v0", role="stale")
        q.change_visibility_batch([("v2", "latest", 0), ("v0", "stale", 0), ("v4", "bogus", 0)])
        self.sleep(0.001)
        self.assertEqual(q.receive(MaxNumberOfMessages=10, AttributeNames=ALL), ["v2"])
        q.counts()

    def scenario_zero_visibility(self):
        # Given a message received with a visibility timeout of 0
        q = Pair(self.sqs, "zero")
        q.send("z0")
        q.send("z1")
        self.assertEqual(q.receive(MaxNumberOfMessages=1, VisibilityTimeout=0, AttributeNames=ALL), ["z0"])
        # Then it is still visible, and received again first
        self.assertEqual(q.counts()["ApproximateNumberOfMessages"], "2")
        self.assertEqual(q.receive(MaxNumberOfMessages=10, VisibilityTimeout=0, AttributeNames=ALL), ["z0", "z1"])
        q.delete_batch([("z0", "stale"), ("z1", "latest")])
        q.counts()

    def scenario_redrive(self):
        # Given a queue that moves a message to its DLQ after 2 receives
        q = Pair(self.sqs, "redrive", attributes={"VisibilityTimeout": "1"}, max_receive_count=2)
        q.send("r0")
        q.send("r1")
        q.send("r2")
        for _ in range(2):
            self.assertEqual(q.receive(MaxNumberOfMessages=2, AttributeNames=ALL), ["r0", "r1"])
            self.sleep(1.2)
        # When they are received a third time
        self.assertEqual(q.receive(MaxNumberOfMessages=10, AttributeNames=ALL), ["r2"])
        # Then the two went to the DLQ (moto moves them on receive), counts and all
        self.assertEqual(q.counts(dlq=True)["ApproximateNumberOfMessages"], "2")
        q.counts()
        self.assertEqual(q.receive(dlq=True, MaxNumberOfMessages=10, AttributeNames=ALL), ["r0", "r1"])
        # A handle from the source queue is invalid there, and valid on the DLQ
        q.delete("r0", role="stale")
        q.delete("r0", role="stale", dlq=True)
        q.delete("r1", dlq=True)
        q.counts(dlq=True)

    def scenario_delays(self):
        # Given a queue delaying by default, and a message with its own delay
        q = Pair(self.sqs, "delay", attributes={"DelaySeconds": "1"})
        q.send("d0")
        q.send("d1", DelaySeconds=0)
        q.send_batch([{"Id": "x", "MessageBody": "d2", "DelaySeconds": 2}])
        # Then only the undelayed one is received now, the others once their delay passed
        self.assertEqual(q.counts()["ApproximateNumberOfMessagesDelayed"], "2")
        self.assertEqual(q.receive(MaxNumberOfMessages=10, AttributeNames=ALL), ["d1"])
        self.sleep(1.2)
        self.assertEqual(q.receive(MaxNumberOfMessages=10, AttributeNames=ALL), ["d0"])
        self.sleep(1.0)
        self.assertEqual(q.receive(MaxNumberOfMessages=10, AttributeNames=ALL), ["d2"])
        q.counts()

    def scenario_purge_and_retention(self):
        # Given received messages, then a purge
        q = Pair(self.sqs, "purge")
        for i in range(3):
            q.send(f"p{i}")
        self.assertEqual(q.receive(MaxNumberOfMessages=2), ["p0", "p1"])
        q.purge()
        # Then their handles are invalid, the counts 0, and the queue works on
        q.delete("p0")
        self.assertEqual(q.counts()["ApproximateNumberOfMessages"], "0")
        q.send("p3")
        self.assertEqual(q.receive(MaxNumberOfMessages=10), ["p3"])
        # Given a retention of 1 s: an expired message is taken but not returned (moto)
        r = Pair(self.sqs, "retention", attributes={"MessageRetentionPeriod": "1"})
        r.send("old")
        self.sleep(1.1)
        r.send("new")
        self.assertEqual(r.receive(MaxNumberOfMessages=10, AttributeNames=ALL), [])
        self.assertEqual(r.counts()["ApproximateNumberOfMessagesNotVisible"], "1")

    def scenario_long_poll(self):
        # Given an empty queue long-polled on both sides at once (moto's real clock)
        self.clock.__exit__()
        q = Pair(self.sqs, "poll", tolerance_ms=1000)
        sender = threading.Timer(0.4, lambda: q.send("late"))
        sender.start()
        started = time.monotonic()
        # Then both wake with the message sent during the poll, well before its end
        got = q.receive(parallel=True, WaitTimeSeconds=5, MaxNumberOfMessages=10, AttributeNames=ALL)
        sender.join()
        self.assertEqual(got, ["late"])
        self.assertLess(time.monotonic() - started, 4)
        self.assertEqual(q.receive(parallel=True, WaitTimeSeconds=1), [])
        self.clock.__enter__()

    def scenario_fifo(self):
        # Given a FIFO queue with two groups (FIFO queues run moto's code on both sides)
        q = Pair(self.sqs, "groups", fifo=True, attributes={"VisibilityTimeout": "1"})
        for i, group in enumerate("aabab"):
            q.send(f"{group}{i}", MessageGroupId=group, MessageDeduplicationId=f"d{i}")
        q.send("a0-dup", MessageGroupId="a", MessageDeduplicationId="d0")
        # Then a receive takes from both groups in order, and in-flight groups block
        self.assertEqual(q.receive(MaxNumberOfMessages=1, AttributeNames=ALL), ["a0"])
        self.assertEqual(q.receive(MaxNumberOfMessages=10, AttributeNames=ALL), ["b2", "b4"])
        self.assertEqual(q.receive(MaxNumberOfMessages=10), [])
        q.delete("a0")
        self.assertEqual(q.receive(MaxNumberOfMessages=10, AttributeNames=ALL), ["a1", "a3"])
        self.sleep(1.2)
        # (moto's own FIFO order after a timeout: each group's later message first)
        self.assertEqual(q.receive(MaxNumberOfMessages=10, AttributeNames=ALL), ["a3", "b4"])
        q.counts()

    def scenario_random(self, seed: int = 22):
        # Given a seeded random mix of every call on a standard queue with a DLQ
        rng = random.Random(seed)
        q = Pair(self.sqs, f"random{seed}", attributes={"VisibilityTimeout": "1"}, max_receive_count=3)
        sent = []
        for step in range(120):
            op = rng.random()
            if op < 0.3:
                body = f"s{step}"
                q.send(body, DelaySeconds=rng.choice([0, 0, 0, 1]))
                sent.append(body)
            elif op < 0.6:
                q.receive(MaxNumberOfMessages=rng.randint(1, 10), VisibilityTimeout=rng.choice([0, 1, 1, 2]),
                          AttributeNames=ALL)
            elif op < 0.75:
                held = [b for b in sent if q.handles["orig"].get(b)]
                if held:
                    picks = rng.sample(held, min(len(held), rng.randint(1, 4)))
                    q.delete_batch([(b, rng.choice(["latest", "latest", "bogus"])) for b in picks])
            elif op < 0.85:
                held = [b for b in sent if q.handles["orig"].get(b)]
                if held:
                    q.change_visibility(rng.choice(held), rng.choice([0, 1, 3]))
            elif op < 0.95:
                q.counts()
                q.counts(dlq=True)
            else:
                self.sleep(0.6)
        q.counts()

    def test_receive_and_delete(self):
        self.scenario_receive_and_delete()

    def test_visibility(self):
        self.scenario_visibility()

    def test_zero_visibility(self):
        self.scenario_zero_visibility()

    def test_redrive(self):
        self.scenario_redrive()

    def test_delays(self):
        self.scenario_delays()

    def test_purge_and_retention(self):
        self.scenario_purge_and_retention()

    def test_long_poll(self):
        self.scenario_long_poll()

    def test_fifo(self):
        self.scenario_fifo()

    def test_random(self):
        self.scenario_random()


class Mutants(Differential):
    """The comparison can fail: each fast path broken on purpose is caught."""

    def assert_caught(self, scenario, target, name, broken):
        with mock.patch.object(target, name, broken):
            with self.assertRaises(Mismatch):
                scenario()

    def test_a_receive_count_not_incremented_is_caught(self):
        def mark_received(message, visibility_timeout=None):
            Message.mark_received(message, visibility_timeout)
            message.approximate_receive_count -= 1

        self.assert_caught(self.scenario_visibility, fastpath, "_mark_received", mark_received)

    def test_an_expired_visibility_timeout_never_noticed_is_caught(self):
        self.assert_caught(self.scenario_visibility, fastpath.Index, "drain", lambda index: None)

    def test_an_unfiltered_message_attribute_is_caught(self):
        self.assert_caught(self.scenario_receive_and_delete, fastpath, "_filter_message_attributes",
                           lambda message, names: None)

    def test_an_ignored_retention_is_caught(self):
        self.assert_caught(self.scenario_purge_and_retention, fastpath, "_retained", lambda q, m: True)

    def test_messages_handed_out_newest_first_are_caught(self):
        def newest_first(index):
            live = [e for e in index.ready if e[1] == e[2]._fastpath_slot.token]
            if not live:
                return None
            entry = max(live)
            index.ready.remove(entry)
            heapq.heapify(index.ready)
            index._unplace(entry[2]._fastpath_slot)
            return entry[2]

        self.assert_caught(self.scenario_receive_and_delete, fastpath.Index, "pop_ready", newest_first)

    # The scenarios themselves are not rerun here.
    test_receive_and_delete = test_visibility = test_zero_visibility = test_redrive = None
    test_delays = test_purge_and_retention = test_long_poll = test_fifo = test_random = None


class Cost(unittest.TestCase):
    """A call's cost does not grow with the queue."""

    def test_receive_and_delete_touch_only_the_batch(self):
        with mock_aws():
            sqs = sqs_pair.client()
            url = sqs.create_queue(QueueName="deep")["QueueUrl"]
            for i in range(0, 1000, 10):
                sqs.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(j), "MessageBody": f"m{i + j}"} for j in range(10)])
            # When 10 are received and deleted from a queue of 1,000
            looked_at = []
            visible = Message.visible

            def counted(message):
                looked_at.append(message.id)
                return visible.fget(message)

            with mock.patch.object(Message, "visible", property(counted)):
                got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
                depth = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=ALL)["Attributes"]
            # Then only those messages were looked at
            self.assertEqual(len(got), 10)
            self.assertEqual(depth["ApproximateNumberOfMessages"], "990")
            self.assertLessEqual(len(set(looked_at)), 10)
            self.assertLessEqual(len(looked_at), 40)


class Pinned(unittest.TestCase):
    def test_another_moto_version_is_refused(self):
        with mock.patch.object(fastpath, "MOTO_VERSION", "5.2.6"):
            with self.assertRaisesRegex(fastpath.MotoVersionMismatch, "5.2.6 expected"):
                fastpath.check_moto()

    def test_changed_moto_sources_are_refused(self):
        sources = dict(fastpath.MOTO_SOURCES, **{"sqs/models.py": "0" * 64})
        with mock.patch.object(fastpath, "MOTO_SOURCES", sources):
            with self.assertRaisesRegex(fastpath.MotoVersionMismatch, "sqs/models.py"):
                fastpath.check_moto()

    def test_the_installed_moto_is_the_pinned_one(self):
        fastpath.check_moto()


if __name__ == "__main__":
    unittest.main()
