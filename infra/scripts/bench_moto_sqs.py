"""What an SQS call costs on the emulator, by queue depth: moto 5.2.5's own code beside
the fast path of infra/scripts/moto_sqs_fastpath.py, in the same run and the same server.

    .venv/bin/python infra/scripts/bench_moto_sqs.py                # depths 100, 1000, 10000
    BENCH_SQS_DEPTHS=100,1000 .venv/bin/python infra/scripts/bench_moto_sqs.py
    BENCH_SQS_MODE=backlog .venv/bin/python infra/scripts/bench_moto_sqs.py  # make chaos's load

One moto server, in a child process of its own (as the stack's), answers boto3 over
loopback HTTP; the child also takes one order from this process: hand a queue back to
moto's code. Queues are filled with the fast path (moto's own SendMessage walks the
queue, so filling 10,000 that way takes hours), then the "moto" one is handed back (its
messages moved into moto's list) and each is measured as its code would have left it.

Mode `depths` (default), per depth, keeping the depth constant (each deleted batch is sent
again, timed apart); each figure the mean over up to MAX_REPS calls or BUDGET_S seconds:
- ReceiveMessage(10, visibility 60 s) + DeleteMessageBatch of what it returned, pairs/s;
- GetQueueAttributes of the three Approximate* counts (the pollers' depth check), calls/s;
- SendMessageBatch(10) calls/s.

Mode `backlog`: `make chaos`'s load on the backlog its DynamoDB outage leaves (the
defaults of infra/local/src/chaos: changes at 12/s delivered 4 at a time, each one
SendMessage by webhook-ingest; 2 pollers receiving 10 with a 1 s long poll and a 40 s
visibility timeout). Outage: BACKLOG messages in flight, the pollers receive and fail
(delete nothing); after it: BACKLOG messages visible, the pollers receive and delete. Per
phase, PHASE_S seconds: SendMessage calls done against offered, their p50/p95 latency,
messages received and deleted per second.
"""

import logging
import multiprocessing
import os
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("AWS_ACCESS_KEY_ID", "test")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "test")

import boto3  # noqa: E402

MAX_REPS = 40
BUDGET_S = 20.0
COUNTS = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
          "ApproximateNumberOfMessagesDelayed"]
BACKLOG = int(os.environ.get("BENCH_SQS_BACKLOG", "3450"))
PHASE_S = float(os.environ.get("BENCH_SQS_PHASE_S", "45"))
RAISE_PER_S, DELIVERIES, POLLERS, VISIBILITY = 12.0, 4, 2, 40


def serve(conn) -> None:
    """The child: moto with the fast path, and the hand-back order on `conn`."""
    import moto_sqs_fastpath as fastpath
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.server import ThreadedMotoServer
    from moto.sqs.models import sqs_backends

    fastpath.install()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    conn.send(server.get_host_and_port()[1])
    while True:
        name = conn.recv()
        if name is None:
            return
        queue = sqs_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].queues[name]
        index = fastpath._index(queue)
        with queue._messages_lock:  # moto's list, in moto's order; moto's code from now on
            queue.__dict__["_fastpath_list"] = list(index.order.values())
            queue.__dict__["_fastpath_index"] = None
        conn.send("ok")


class Emulator:
    def __enter__(self):
        self.conn, child = multiprocessing.Pipe()
        self.proc = multiprocessing.get_context("spawn").Process(target=serve, args=(child,))
        self.proc.start()
        self.port = self.conn.recv()
        self.sqs = self.client()
        return self

    def client(self):
        return boto3.client("sqs", region_name="us-east-1", endpoint_url=f"http://127.0.0.1:{self.port}")

    def queue(self, name: str, depth: int, side: str) -> str:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        for start in range(0, depth, 10):
            self.sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(min(10, depth - start))])
        if side == "moto":
            self.conn.send(name)
            self.conn.recv()
        return url

    def __exit__(self, *exc):
        self.conn.send(None)
        self.proc.join(10)
        if self.proc.is_alive():
            self.proc.kill()


def rate(call) -> float:
    """Calls per second of `call` (returning the seconds it wants counted)."""
    spent, reps, started = 0.0, 0, time.monotonic()
    while reps < MAX_REPS and (reps < 3 or time.monotonic() - started < BUDGET_S):
        spent += call()
        reps += 1
    return reps / spent


def measure(sqs, url: str) -> dict[str, float]:
    serial = iter(range(10**9))

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

    return {"pairs": rate(pair), "attrs": rate(attributes),
            "sends": rate(lambda: send(10))}  # last: it deepens the queue by up to 400


def depths_mode(emu: Emulator) -> None:
    depths = [int(d) for d in os.environ.get("BENCH_SQS_DEPTHS", "100,1000,10000").split(",")]
    print("| Queue depth | Receive(10)+DeleteBatch pairs/s: moto 5.2.5 | fast path | × "
          "| GetQueueAttributes/s: moto | fast path | × "
          "| SendMessageBatch(10)/s: moto | fast path | × |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for depth in depths:
        f = {}
        for side in ("moto", "fast"):
            url = emu.queue(f"{side}-{depth}", depth, side)
            f[side] = measure(emu.sqs, url)
            print(f"depth {depth} {side}: {f[side]}", file=sys.stderr, flush=True)
            emu.sqs.delete_queue(QueueUrl=url)
        cells = []
        for key in ("pairs", "attrs", "sends"):
            m, x = f["moto"][key], f["fast"][key]
            cells += [f"{m:,.2f}", f"{x:,.1f}", f"{x / m:,.0f}×"]
        print(f"| {depth:,} | " + " | ".join(cells) + " |", flush=True)


def phase(emu: Emulator, url: str, outage: bool) -> dict[str, float]:
    """PHASE_S seconds of chaos's load on `url`; the pollers delete unless `outage`."""
    stop = time.monotonic() + PHASE_S
    lat: list[float] = []
    got = {"received": 0, "deleted": 0}
    lock = threading.Lock()

    def deliver(k: int) -> None:  # one of 4 delivery slots, each RAISE_PER_S/4 an s
        sqs, n = emu.client(), 0
        started = time.monotonic()
        while time.monotonic() < stop:
            due = started + n * DELIVERIES / RAISE_PER_S
            time.sleep(max(0.0, due - time.monotonic()))
            t = time.perf_counter()
            sqs.send_message(QueueUrl=url, MessageBody=f"event {k}-{n}")
            with lock:
                lat.append(time.perf_counter() - t)
            n += 1

    def poll() -> None:
        sqs = emu.client()
        while time.monotonic() < stop:
            ms = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1,
                                     VisibilityTimeout=VISIBILITY,
                                     MessageSystemAttributeNames=["All"],
                                     MessageAttributeNames=["All"]).get("Messages", [])
            with lock:
                got["received"] += len(ms)
            if ms and not outage:
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(ms)])
                with lock:
                    got["deleted"] += len(ms)

    threads = [threading.Thread(target=deliver, args=(k,)) for k in range(DELIVERIES)]
    threads += [threading.Thread(target=poll) for _ in range(POLLERS)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - started
    lat.sort()
    return {"sent/s": len(lat) / took, "p50 ms": 1000 * statistics.median(lat),
            "p95 ms": 1000 * lat[int(0.95 * (len(lat) - 1))],
            "received/s": got["received"] / took, "deleted/s": got["deleted"] / took}


def backlog_mode(emu: Emulator) -> None:
    print(f"| Phase ({BACKLOG:,} queued, {PHASE_S:.0f} s) | code | SendMessage done/s "
          f"(offered {RAISE_PER_S:.0f}) | p50 ms | p95 ms | received/s | deleted/s |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for outage in (True, False):
        for side in ("moto", "fast"):
            name = f"{side}-{'outage' if outage else 'after'}"
            url = emu.queue(name, BACKLOG, "fast")
            if outage:  # the backlog in flight: received, never deleted
                for _ in range(0, BACKLOG, 10):
                    emu.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900)
            if side == "moto":
                emu.conn.send(name)
                emu.conn.recv()
            r = phase(emu, url, outage)
            print(f"{name}: {r}", file=sys.stderr, flush=True)
            label = "outage: pollers fail every message" if outage else "after: pollers delete"
            print(f"| {label} | {'moto 5.2.5' if side == 'moto' else 'fast path'} | {r['sent/s']:.1f} "
                  f"| {r['p50 ms']:,.0f} | {r['p95 ms']:,.0f} | {r['received/s']:.1f} "
                  f"| {r['deleted/s']:.1f} |", flush=True)
            emu.sqs.delete_queue(QueueUrl=url)


def main() -> None:
    mode = os.environ.get("BENCH_SQS_MODE", "depths")
    with Emulator() as emu:
        {"depths": depths_mode, "backlog": backlog_mode}[mode](emu)


if __name__ == "__main__":
    main()
