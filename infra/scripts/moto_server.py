"""moto's server (`moto_server`), with its request recorder made safe for a threaded server
and its SQS standard queues costing per call what SQS's do.

moto's recorder appends each request to the recording with a buffered text-mode write
(`file.write(json.dumps(entry))`, then `"\n"`). An entry longer than the buffer (8 KiB)
reaches the file in several `write` calls, and the server handles requests on many threads,
so another request's entry can land in the middle of it: a fresh run of `make test` had
one line of the recording holding two entries, and the IAM check could not read it. Here
each entry is written whole, under one lock, so the recording is one JSON object per line.

moto's ReceiveMessage, DeleteMessage, ChangeMessageVisibility and queue attributes walk
the whole queue on every call, so a backlog slows every call down; moto_sqs_fastpath.py
indexes standard queues so each call costs O(batch), with moto's semantics (its
differential tests compare the two). It refuses to start on another moto than the one it
was written against. MOTO_SQS_FASTPATH=0 starts moto's own SQS code (to measure against).

moto's DynamoDB Query lists (and sorts) the whole table to answer for one partition, so
every read slows down as the table fills; moto_dynamodb_fastpath.py hands moto's own Query
only the partition's items (its differential tests compare the two), at the cost of
DynamoDB's. MOTO_DYNAMODB_FASTPATH=0 starts moto's own Query.

The HTTP server logs one access line per request at INFO: 9 % of moto's CPU in a profile of
a full sync (py-spy, issue 22), paid by every benchmark and test. It is off unless
MOTO_ACCESS_LOG=1; the server's warnings and errors still reach the log.

Started by infra/scripts/moto.sh with the same arguments as `moto_server`.
"""

import logging
import os
import sys
import threading

from moto.moto_api._internal.recorder.models import Recorder
from moto.server import main

_record_request = Recorder._record_request
_lock = threading.Lock()


def _record_request_whole(self, request, body=None):
    with _lock:
        return _record_request(self, request, body)


Recorder._record_request = _record_request_whole

if os.environ.get("MOTO_ACCESS_LOG", "0") != "1":
    # werkzeug sets INFO on its logger only while the level is unset.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)

if os.environ.get("MOTO_SQS_FASTPATH", "1") != "0":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import moto_sqs_fastpath

    moto_sqs_fastpath.install()

if os.environ.get("MOTO_DYNAMODB_FASTPATH", "1") != "0":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import moto_dynamodb_fastpath

    moto_dynamodb_fastpath.install()

if __name__ == "__main__":
    sys.exit(main())
