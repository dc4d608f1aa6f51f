"""The fast path of moto's DynamoDB Query (infra/scripts/moto_dynamodb_fastpath.py) answers
every Query as moto's own code does: every write goes to two tables of the same shape, one
with the fast path and one without (`_fastpath_off`), and every Query must get the same
answer from both (items, counts, LastEvaluatedKey), page by page.

    .venv/bin/python -m unittest discover -s infra/scripts/tests -v
"""

import os
import random
import sys
import unittest
from unittest import mock

import boto3
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import moto_dynamodb_fastpath as fastpath  # noqa: E402

fastpath.install()

ACCOUNT, REGION = "123456789012", "us-east-1"
SIDES = ("plain", "fast")


class Mismatch(AssertionError):
    pass


def _s(v):
    return {"S": v}


class Tables:
    """Two tables of one shape; writes go to both, reads are compared."""

    def __init__(self, db, hash_only=False):
        self.db = db
        for name in SIDES:
            spec = dict(
                TableName=name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in
                                      (("pk", "S"), ("sk", "S"), ("g", "S"), ("gs", "N"), ("k", "S"), ("l", "S"))
                                      if not (hash_only and a in ("sk", "l"))],
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}]
                + ([] if hash_only else [{"AttributeName": "sk", "KeyType": "RANGE"}]),
                GlobalSecondaryIndexes=[
                    {"IndexName": "byg", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                       {"AttributeName": "gs", "KeyType": "RANGE"}],
                     "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["body"]}},
                    {"IndexName": "byk", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                     "Projection": {"ProjectionType": "KEYS_ONLY"}},
                ],
            )
            if not hash_only:
                spec["LocalSecondaryIndexes"] = [
                    {"IndexName": "byl", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                       {"AttributeName": "l", "KeyType": "RANGE"}],
                     "Projection": {"ProjectionType": "ALL"}}]
            db.create_table(**spec)
        backend = dynamodb_backends[ACCOUNT][REGION]
        backend.get_table("plain").__dict__["_fastpath_off"] = True
        self.hash_only = hash_only
        self.queries = 0

    def each(self, call, **kwargs):
        """The same call on both tables; both must succeed or fail alike."""
        outcomes = []
        for name in SIDES:
            try:
                outcomes.append(("ok", call(TableName=name, **kwargs)))
            except Exception as e:  # noqa: BLE001 - compared across the two sides
                outcomes.append(("error", type(e).__name__))
        if outcomes[0][0] != outcomes[1][0] or (outcomes[0][0] == "error" and outcomes[0] != outcomes[1]):
            raise Mismatch(f"{call.__name__}({kwargs}): {outcomes}")
        return outcomes[0]

    def transact(self, items):
        outcomes = []
        for name in SIDES:
            try:
                self.db.transact_write_items(
                    TransactItems=[{op: dict(body, TableName=name)} for op, body in items])
                outcomes.append("ok")
            except Exception as e:  # noqa: BLE001
                outcomes.append(type(e).__name__)
        if outcomes[0] != outcomes[1]:
            raise Mismatch(f"transaction {items}: {outcomes}")
        return outcomes[0]

    def query_all(self, **kwargs):
        """Every page of one Query, from both sides; they must agree page by page."""
        pages = []
        start = {}
        while True:
            answers = []
            for name in SIDES:
                r = self.db.query(TableName=name, **kwargs, **start)
                r.pop("ResponseMetadata", None)
                answers.append(r)
            self.queries += 1
            if answers[0] != answers[1]:
                raise Mismatch(f"query {kwargs} {start}:\nplain {answers[0]}\nfast  {answers[1]}")
            pages.append(answers[1])
            if "LastEvaluatedKey" not in answers[1]:
                return pages
            start = {"ExclusiveStartKey": answers[1]["LastEvaluatedKey"]}

    def key(self, p, s):
        return {"pk": _s(f"p{p}")} if self.hash_only else {"pk": _s(f"p{p}"), "sk": _s(f"s{s:03d}")}


class Differential(unittest.TestCase):
    def setUp(self):
        self.mock = mock_aws()
        self.mock.start()
        self.db = boto3.client("dynamodb", region_name=REGION)

    def tearDown(self):
        self.mock.stop()

    def items(self, pages):
        return [i for page in pages for i in page["Items"]]

    def test_a_partition_is_read_alone_in_every_direction_and_page_size(self):
        # Given items in three partitions, with and without index attributes
        t = Tables(self.db)
        for p in range(3):
            for s in range(12):
                item = dict(t.key(p, s), body=_s(f"b{p}-{s}"), l=_s(f"{(s * 7) % 12:02d}"))
                if s % 2:
                    item.update(g=_s(f"g{s % 3}"), gs={"N": str(100 - s)})
                if s % 3 == 0:
                    item["k"] = _s("k")
                t.each(self.db.put_item, Item=item)
        # When each partition and index is queried forward, backward, in pages of 1, 5, all
        for limit in (None, 1, 5):
            for forward in (True, False):
                extra = {"Limit": limit} if limit else {}
                for kwargs in (
                    dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": _s("p1")}),
                    dict(KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                         ExpressionAttributeValues={":p": _s("p2"), ":a": _s("s003"), ":b": _s("s009")}),
                    dict(KeyConditionExpression="pk = :p AND begins_with(sk, :a)",
                         ExpressionAttributeValues={":p": _s("p0"), ":a": _s("s01")}),
                    dict(IndexName="byg", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": _s("g1")}),
                    dict(IndexName="byg", KeyConditionExpression="g = :g AND gs > :n",
                         ExpressionAttributeValues={":g": _s("g0"), ":n": {"N": "90"}}),
                    dict(IndexName="byk", KeyConditionExpression="k = :k", ExpressionAttributeValues={":k": _s("k")}),
                    dict(IndexName="byl", KeyConditionExpression="pk = :p AND l < :l",
                         ExpressionAttributeValues={":p": _s("p2"), ":l": _s("08")}),
                    dict(KeyConditionExpression="pk = :p", FilterExpression="attribute_exists(g)",
                         ExpressionAttributeValues={":p": _s("p1")}, ProjectionExpression="sk, body"),
                    dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": _s("nobody")}),
                    dict(IndexName="byg", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": _s("none")}),
                ):
                    t.query_all(ScanIndexForward=forward, **extra, **kwargs)
        # Then both sides agreed on every page (and the queries found something)
        got = self.items(t.query_all(IndexName="byg", KeyConditionExpression="g = :g",
                                     ExpressionAttributeValues={":g": _s("g1")}))
        self.assertEqual(len(got), 6)
        self.assertGreater(t.queries, 100)

    def test_writes_that_move_items_between_index_values_are_seen_by_the_next_query(self):
        # Given items indexed under g0, with the index built by a first query
        t = Tables(self.db)
        for s in range(6):
            t.each(self.db.put_item, Item=dict(t.key(0, s), g=_s("g0"), gs={"N": str(s)}, k=_s("a")))
        q = dict(IndexName="byg", KeyConditionExpression="g = :g")
        self.assertEqual(len(self.items(t.query_all(**q, ExpressionAttributeValues={":g": _s("g0")}))), 6)
        # When an update moves one to g1, another loses g, a third is deleted, a put overwrites
        t.each(self.db.update_item, Key=t.key(0, 1), UpdateExpression="SET g = :g",
               ExpressionAttributeValues={":g": _s("g1")})
        t.each(self.db.update_item, Key=t.key(0, 2), UpdateExpression="REMOVE g")
        t.each(self.db.delete_item, Key=t.key(0, 3))
        t.each(self.db.put_item, Item=dict(t.key(0, 4), g=_s("g1"), gs={"N": "40"}))
        # and an update creates an item straight into g1, a batch writes and deletes
        t.each(self.db.update_item, Key=t.key(0, 9), UpdateExpression="SET g = :g, gs = :n",
               ExpressionAttributeValues={":g": _s("g1"), ":n": {"N": "9"}})
        for name in SIDES:
            self.db.batch_write_item(RequestItems={name: [
                {"PutRequest": {"Item": dict(t.key(0, 10), g=_s("g1"), gs={"N": "10"})}},
                {"DeleteRequest": {"Key": t.key(0, 0)}}]})
        # Then each value's query answers alike on both sides, with what moved
        g0 = self.items(t.query_all(**q, ExpressionAttributeValues={":g": _s("g0")}))
        g1 = self.items(t.query_all(**q, ExpressionAttributeValues={":g": _s("g1")}))
        self.assertEqual(sorted(i["sk"]["S"] for i in g0), ["s005"])
        self.assertEqual(sorted(i["sk"]["S"] for i in g1), ["s001", "s004", "s009", "s010"])
        # And a conditional update that fails changes nothing on either side
        t.each(self.db.update_item, Key=t.key(0, 5), UpdateExpression="SET g = :g",
               ConditionExpression="attribute_not_exists(pk)", ExpressionAttributeValues={":g": _s("g1")})
        self.assertEqual(len(self.items(t.query_all(**q, ExpressionAttributeValues={":g": _s("g0")}))), 1)

    def test_a_transaction_that_fails_rolls_back_and_one_that_succeeds_is_seen(self):
        # Given an item under g0 and the index built
        t = Tables(self.db)
        t.each(self.db.put_item, Item=dict(t.key(0, 0), g=_s("g0"), gs={"N": "1"}))
        q = dict(IndexName="byg", KeyConditionExpression="g = :g")
        t.query_all(**q, ExpressionAttributeValues={":g": _s("g0")})
        # When a transaction moves it to g1 and then fails its condition on another item
        outcome = t.transact([
            ("Update", {"Key": t.key(0, 0), "UpdateExpression": "SET g = :g",
                        "ExpressionAttributeValues": {":g": _s("g1")}}),
            ("ConditionCheck", {"Key": t.key(0, 1), "ConditionExpression": "attribute_exists(pk)"}),
        ])
        self.assertEqual(outcome, "TransactionCanceledException")
        # Then the query still finds it under g0, on both sides
        self.assertEqual(len(self.items(t.query_all(**q, ExpressionAttributeValues={":g": _s("g0")}))), 1)
        self.assertEqual(self.items(t.query_all(**q, ExpressionAttributeValues={":g": _s("g1")})), [])
        # When the same transaction succeeds
        t.each(self.db.put_item, Item=t.key(0, 1))
        self.assertEqual(t.transact([
            ("Update", {"Key": t.key(0, 0), "UpdateExpression": "SET g = :g",
                        "ExpressionAttributeValues": {":g": _s("g1")}}),
            ("Put", {"Item": dict(t.key(0, 2), g=_s("g1"), gs={"N": "2"})}),
            ("ConditionCheck", {"Key": t.key(0, 1), "ConditionExpression": "attribute_exists(pk)"}),
        ]), "ok")
        # Then both moved
        self.assertEqual(len(self.items(t.query_all(**q, ExpressionAttributeValues={":g": _s("g1")}))), 2)
        self.assertEqual(self.items(t.query_all(**q, ExpressionAttributeValues={":g": _s("g0")})), [])

    def test_an_index_added_to_a_filled_table_is_queried_alike(self):
        # Given a filled table, queried by its indexes once
        t = Tables(self.db)
        for s in range(8):
            t.each(self.db.put_item, Item=dict(t.key(s % 2, s), g=_s("g0"), gs={"N": str(s)}, h=_s(f"h{s % 3}")))
        t.query_all(IndexName="byg", KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": _s("g0")})
        # When an index on another attribute is added, and items are written after
        t.each(self.db.update_table, AttributeDefinitions=[{"AttributeName": "h", "AttributeType": "S"}],
               GlobalSecondaryIndexUpdates=[{"Create": {"IndexName": "byh", "KeySchema": [
                   {"AttributeName": "h", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}}])
        t.each(self.db.update_item, Key=t.key(0, 0), UpdateExpression="SET h = :h",
               ExpressionAttributeValues={":h": _s("h2")})
        # Then it answers alike on both sides, with items written before and after
        for h in ("h0", "h1", "h2"):
            t.query_all(IndexName="byh", KeyConditionExpression="h = :h", ExpressionAttributeValues={":h": _s(h)})
        got = self.items(t.query_all(IndexName="byh", KeyConditionExpression="h = :h",
                                     ExpressionAttributeValues={":h": _s("h2")}))
        self.assertEqual(len(got), 3)

    def test_a_table_without_a_sort_key_is_queried_alike(self):
        t = Tables(self.db, hash_only=True)
        for p in range(5):
            t.each(self.db.put_item, Item=dict(t.key(p, 0), g=_s("g0"), gs={"N": str(p)}))
        self.assertEqual(len(self.items(t.query_all(KeyConditionExpression="pk = :p",
                                                    ExpressionAttributeValues={":p": _s("p3")}))), 1)
        self.assertEqual(len(self.items(t.query_all(IndexName="byg", KeyConditionExpression="g = :g", Limit=2,
                                                    ExpressionAttributeValues={":g": _s("g0")}))), 5)

    def test_moto_own_errors_are_answered_alike(self):
        t = Tables(self.db)
        t.each(self.db.query, IndexName="nope", KeyConditionExpression="g = :g",
               ExpressionAttributeValues={":g": _s("g0")})
        t.each(self.db.query, IndexName="byg", ConsistentRead=True, KeyConditionExpression="g = :g",
               ExpressionAttributeValues={":g": _s("g0")})

    def test_a_seeded_mix_of_writes_and_queries_agrees_throughout(self):
        # Given a seeded random mix of puts, updates, removals, deletes and queries
        t = Tables(self.db)
        for seed in (1, 2, 3):
            rng = random.Random(seed)
            for step in range(400):
                p, s = rng.randrange(4), rng.randrange(15)
                roll = rng.random()
                if roll < 0.35:
                    item = dict(t.key(p, s), body=_s(f"b{step}"), l=_s(f"{rng.randrange(20):02d}"))
                    if rng.random() < 0.7:
                        item.update(g=_s(f"g{rng.randrange(3)}"), gs={"N": str(rng.randrange(50))})
                    if rng.random() < 0.3:
                        item["k"] = _s(f"k{rng.randrange(2)}")
                    t.each(self.db.put_item, Item=item)
                elif roll < 0.6:
                    t.each(self.db.update_item, Key=t.key(p, s), UpdateExpression="SET g = :g, gs = :n, body = :b",
                           ExpressionAttributeValues={":g": _s(f"g{rng.randrange(3)}"), ":n": {"N": str(step)},
                                                      ":b": _s(f"u{step}")})
                elif roll < 0.7:
                    t.each(self.db.update_item, Key=t.key(p, s), UpdateExpression="REMOVE g, k")
                elif roll < 0.8:
                    t.each(self.db.delete_item, Key=t.key(p, s))
                else:
                    limit = {"Limit": rng.choice([1, 3, 7])} if rng.random() < 0.6 else {}
                    forward = rng.random() < 0.5
                    kind = rng.randrange(3)
                    if kind == 0:
                        t.query_all(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": _s(f"p{p}")},
                                    ScanIndexForward=forward, **limit)
                    elif kind == 1:
                        t.query_all(IndexName="byg", KeyConditionExpression="g = :g",
                                    ExpressionAttributeValues={":g": _s(f"g{rng.randrange(3)}")},
                                    ScanIndexForward=forward, **limit)
                    else:
                        t.query_all(IndexName="byk", KeyConditionExpression="k = :k",
                                    ExpressionAttributeValues={":k": _s(f"k{rng.randrange(2)}")}, **limit)
        # Then every query agreed (query_all raises on the first difference)
        self.assertGreater(t.queries, 150)


class Mutants(unittest.TestCase):
    """A broken fast path is caught: the differential tests fail under each of these."""

    def run_differential(self):
        suite = unittest.defaultTestLoader.loadTestsFromTestCase(Differential)
        result = unittest.TestResult()
        suite.run(result)
        return result.failures + result.errors

    def check_caught(self, target, replacement):
        with mock.patch.object(*target, replacement):
            failed = self.run_differential()
        self.assertTrue(failed, f"the differential tests did not catch {target[1]}")

    def test_a_fast_path_that_misses_updates_is_caught(self):
        self.check_caught((fastpath.DynamoDBBackend, "update_item"), fastpath._original_update_item)

    def test_a_fast_path_that_misses_puts_is_caught(self):
        self.check_caught((fastpath.Table, "put_item"), fastpath._original_put_item)

    def test_a_fast_path_that_keeps_stale_entries_is_caught(self):
        def live_forever(table, key):
            item = fastpath._live(table, key)
            return item if item is not None else next(iter(fastpath._original_all_items(table)), None)
        self.check_caught((fastpath, "_live"), live_forever)


if __name__ == "__main__":
    unittest.main()
