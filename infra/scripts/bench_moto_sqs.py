"""What an SQS call costs on the emulator, by queue depth: moto 5.2.5's own code beside
the fast path of infra/scripts/moto_sqs_fastpath.py, in the same run and the same server.

    .venv/bin/python infra/scripts/bench_moto_sqs.py                # depths 100, 1000, 10000
    BENCH_SQS_DEPTHS=100,1000 .venv/bin/python infra/scripts/bench_moto_sqs.py

One moto server (in a thread of this process, so its queues can be reached) answers boto3
over loopback HTTP. Per depth, two standard queues are filled to that depth with the fast
path (moto's own SendMessage walks the queue, so filling 10,000 that way takes hours);
then one is handed back to moto's code (its messages moved into moto's list), so each is
measured as its code would have left it. Measured, per queue, keeping the depth constant
(each deleted batch is sent again, timed apart):
- ReceiveMessage(10, visibility 60 s) + DeleteMessageBatch of what it returned, pairs/s;
- SendMessageBatch(10) calls/s (what the ingest function does per webhook, batched here);
- GetQueueAttributes of the three Approximate* counts calls/s (the pollers' depth check).
Each figure is the mean over up to MAX_REPS calls or BUDGET_S seconds, at least 3.
Prints a markdown table.
"""

import logging
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")

import boto3  # noqa: E402
import moto_sqs_fastpath as fastpath  # noqa: E402
from moto.core import DEFAULT_ACCOUNT_ID  # noqa: E402
from moto.server import ThreadedMotoServer  # noqa: E402
from moto.sqs.models import sqs_backends  # noqa: E402

MAX_REPS = 40
BUDGET_S = 20.0
COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed"]


def hand_back_to_moto(queue) -> None:
    """The queue's messages, in order, into moto's own list; its calls run moto's code."""
    index = fastpath._index(queue)
    with queue._messages_lock:
        queue.__dict__["_fastpath_list"] = list(index.order.values())
        queue.__dict__["_fastpath_index"] = None


def rate(call) -> float:
    """Calls per second of `call` (returning the seconds it wants counted)."""
    spent, reps, started = 0.0, 0, time.monotonic()
    while reps < MAX_REPS and (reps < 3 or time.monotonic() - started < BUDGET_S):
        spent += call()
        reps += 1
    return reps / spent


def measure(sqs, url: str) -> dict[str, float]:
    serial = iter(range(10**9))
    out = {}

    def send(n: int) -> float:
        entries = [{"Id": str(i), "MessageBody": f"refill {next(serial)}"} for i in range(n)]
        t = time.perf_counter()
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
        return time.perf_counter() - t

    def pair() -> float:
        t = time.perf_counter()
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                  VisibilityTimeout=60).get("Messages", [])
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
        spent = time.perf_counter() - t
        if len(got) != 10:
            raise SystemExit(f"{url}: received {len(got)}, 10 expected")
        send(10)  # the depth stays; not counted
        return spent

    def attributes() -> float:
        t = time.perf_counter()
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=COUNTS)
        return time.perf_counter() - t

    out["pairs"] = rate(pair)
    out["attrs"] = rate(attributes)
    out["sends"] = rate(lambda: send(10))  # last: it deepens the queue by up to 400
    return out


def main() -> None:
    depths = [int(d) for d in os.environ.get("BENCH_SQS_DEPTHS", "100,1000,10000").split(",")]
    fastpath.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    sqs = boto3.client("sqs", region_name="us-east-1", endpoint_url=f"http://{host}:{port}")
    backend = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"]
    rows = []
    for depth in depths:
        figures = {}
        for side in ("moto", "fast"):
            name = f"{side}-{depth}"
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            for start in range(0, depth, 10):
                sqs.send_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "MessageBody": f"m{start + i}"}
                    for i in range(min(10, depth - start))])
            if side == "moto":
                hand_back_to_moto(backend.queues[name])
            figures[side] = measure(sqs, url)
            print(f"depth {depth} {side}: {figures[side]}", file=sys.stderr, flush=True)
            sqs.delete_queue(QueueUrl=url)
        rows.append((depth, figures))
    server.stop()

    print("| Queue depth | Receive(10)+DeleteBatch pairs/s: moto 5.2.5 | fast path | × "
          "| SendMessageBatch(10)/s: moto | fast path | × "
          "| GetQueueAttributes/s: moto | fast path | × |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for depth, f in rows:
        cells = []
        for key in ("pairs", "sends", "attrs"):
            m, x = f["moto"][key], f["fast"][key]
            cells += [f"{m:,.1f}", f"{x:,.1f}", f"{x / m:,.0f}×"]
        print(f"| {depth:,} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
