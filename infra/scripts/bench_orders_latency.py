#!/usr/bin/env python3
"""GET /orders through the local gateway vs a bare DynamoDB Query of the same page, 50 concurrent clients.
Run on `make dev`: source .local/dev/env; PACKR_GATEWAY_URL=http://127.0.0.1:PORT PACKR_TOKEN=... .venv/bin/python infra/scripts/bench_orders_latency.py"""
import json, time, urllib.request, threading, statistics, boto3, os
import sys
GW=os.environ["PACKR_GATEWAY_URL"]; TOKEN=os.environ["PACKR_TOKEN"]
def pct(xs,p): xs=sorted(xs); return xs[min(len(xs)-1,int(len(xs)*p))]
def run(fn, clients=50, per=20):
    lat=[]; lock=threading.Lock()
    def w():
        for _ in range(per):
            t=time.perf_counter(); fn(); d=(time.perf_counter()-t)*1000
            with lock: lat.append(d)
    ts=[threading.Thread(target=w) for _ in range(clients)]
    t0=time.perf_counter(); [t.start() for t in ts]; [t.join() for t in ts]
    return lat, time.perf_counter()-t0
def api():
    r=urllib.request.Request(GW+"/orders?limit=50", headers={"Authorization":"Bearer "+TOKEN})
    with urllib.request.urlopen(r) as resp: assert resp.status==200; resp.read()
ddb=boto3.client("dynamodb", region_name="us-east-1", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
tbl=os.environ["TABLE_NAME"]
def bare():
    ddb.query(TableName=tbl, IndexName="gsi2", KeyConditionExpression="gsi2pk = :p", ExpressionAttributeValues={":p":{"S":"T#demo-3pl#ORDER"}}, ScanIndexForward=False, Limit=51)
for name, fn in [("GET /orders (gateway, JWT, handler, DynamoDB)", api), ("bare DynamoDB Query, same page", bare)]:
    fn(); lat, wall = run(fn)
    print(f"{name}: n={len(lat)} p50={pct(lat,0.5):.1f} ms p95={pct(lat,0.95):.1f} ms wall={wall:.1f}s")
