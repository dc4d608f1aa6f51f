"""What a DynamoDB Query costs moto with and without moto_dynamodb_fastpath.py, by table size.

    .venv/bin/python infra/scripts/bench_moto_dynamodb.py            # 2,000 / 10,000 / 40,000 items
    BENCH_DDB_SIZES=40000 .venv/bin/python infra/scripts/bench_moto_dynamodb.py

In one process (moto in-memory, the boto3 client's requests through moto's own request
handling): two tables of the same shape and the same items, one with the fast path and one
without (`_fastpath_off`). The items spread over 2,000 partitions (so a table partition
holds size/2,000) and 50 values of an index's hash key (size/50 each). For each size it
times, per table: a Query of one table partition, the first page (100) of one index value,
and the walk of every page (50 each) of that value. Prints a Markdown table.
"""

import os
import statistics
import sys
import time

import boto3
from moto import mock_aws
from moto.dynamodb.models import dynamodb_backends

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import moto_dynamodb_fastpath  # noqa: E402

moto_dynamodb_fastpath.install()

SIZES = [int(s) for s in os.environ.get("BENCH_DDB_SIZES", "2000,10000,40000").split(",")]
REPEAT = 10


def table_spec(name):
    return dict(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "g", "gs")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[{
            "IndexName": "gsi",
            "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "gs", "KeyType": "RANGE"}],
            "Projection": {"ProjectionType": "ALL"},
        }],
    )


def timed(call, repeat=REPEAT):
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def walk(client, table):
    kwargs = dict(TableName=table, IndexName="gsi", KeyConditionExpression="g = :g",
                  ExpressionAttributeValues={":g": {"S": "G7"}}, Limit=50)
    pages = 0
    while True:
        page = client.query(**kwargs)
        pages += 1
        if "LastEvaluatedKey" not in page:
            return pages
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def measure(size):
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        backend = dynamodb_backends["123456789012"]["us-east-1"]
        rows = {}
        for name in ("moto", "fast"):
            client.create_table(**table_spec(name))
            table = backend.get_table(name)
            if name == "moto":
                table.__dict__["_fastpath_off"] = True
            for i in range(size):
                table.put_item({"pk": {"S": f"P{i % 2000}"}, "sk": {"S": f"S{i:06d}"},
                                "g": {"S": f"G{i % 50}"}, "gs": {"S": f"{i:06d}"}, "body": {"S": "x" * 200}})
            base = dict(TableName=name, KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": "P7"}})
            index = dict(TableName=name, IndexName="gsi", KeyConditionExpression="g = :g",
                         ExpressionAttributeValues={":g": {"S": "G7"}}, Limit=100)
            client.query(**index)  # the fast path builds its index of values on first use
            pages = walk(client, name)
            rows[name] = (
                timed(lambda: client.query(**base)),
                timed(lambda: client.query(**index)),
                timed(lambda: walk(client, name), repeat=3),
                pages,
            )
        return rows


def main():
    print("| items in the table | Query of a table partition (moto / fast path) | first page of an index value | every page of that value (pages) |")
    print("|---|---|---|---|")
    for size in SIZES:
        rows = measure(size)
        (mb, mi, mw, pages), (fb, fi, fw, _) = rows["moto"], rows["fast"]
        print(f"| {size:,} ({size // 2000} per partition, {size // 50} per index value) "
              f"| {mb * 1000:.1f} ms / {fb * 1000:.1f} ms ({mb / fb:.0f}×) "
              f"| {mi * 1000:.1f} ms / {fi * 1000:.1f} ms ({mi / fi:.0f}×) "
              f"| {mw:.2f} s / {fw:.2f} s ({pages} pages, {mw / fw:.1f}×) |")


if __name__ == "__main__":
    main()
