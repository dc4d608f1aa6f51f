"""Schemathesis hooks for Packr's contract run (loaded through SCHEMATHESIS_HOOKS).

Two inputs only the server can mint are adjusted right before each call, in every phase:

* A page cursor is opaque and signed (HMAC, bound to the tenant and the query): only a
  `next_cursor` Packr returned is valid, so any string a generator invents is rightly a 400
  `invalid_cursor`, and no schema can say otherwise. Generated `cursor` values are dropped;
  the Rust tests cover cursors (forged, foreign, of another query) and pagination.
* An Idempotency-Key names one intended write: the same key with another body is rightly a
  422 `idempotency_key_reused`, and generators repeat header values across cases. A
  schema-valid generated key is replaced by a fresh one; invalid keys (negative cases) are
  kept, so their 400 is still checked.
"""

import re
import uuid

import schemathesis

VALID_KEY = re.compile(r"^[\x21-\x7E]{1,255}$")


@schemathesis.hook
def before_call(ctx, case, **kwargs):
    if case.query and "cursor" in case.query:
        case.query = {k: v for k, v in case.query.items() if k != "cursor"}
    if case.headers:
        key = case.headers.get("Idempotency-Key")
        if isinstance(key, str) and VALID_KEY.match(key):
            case.headers = {**case.headers, "Idempotency-Key": f"st-{uuid.uuid4()}"}
