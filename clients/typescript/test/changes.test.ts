// The changes feed through the client against a local HTTP server: pages drained until
// `has_more` is false, the cursor kept and sent back, the filters sent, a 410 typed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { PackrApiError, PackrClient, drainChanges, readChanges, type Change, type ChangesPage } from "../src/index.js";
import { json, startServer, type Seen, type TestServer } from "./server.js";

function change(id: string, action: Change["action"]): Change {
  return {
    cursor: `after-${id}`,
    kind: "orders",
    id,
    action,
    brand_id: null,
    changed_at: "2026-12-01T10:00:00Z",
    object: null,
    deleted_at: action === "deleted" ? "2026-12-01T10:00:00Z" : null,
  };
}

function feed(request: Seen) {
  const cursor = request.query.get("cursor");
  if (cursor === "too-old") {
    return json(410, { error: { code: "cursor_expired", message: "start again without a cursor", request_id: "r1" } });
  }
  const page: ChangesPage =
    cursor === null
      ? { changes: [change("ord_1", "created")], next_cursor: "p2", has_more: true, horizon: "2026-12-01T10:00:02Z" }
      : { changes: [change("ord_2", "deleted")], next_cursor: "p3", has_more: false, horizon: "2026-12-01T10:00:02Z" };
  return json(200, page);
}

describe("changes", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer(feed);
  });
  after(async () => server.close());

  test("drains every page ready, oldest first, and returns the cursor to keep", async () => {
    const client = new PackrClient({ baseUrl: server.origin, token: "t.o.k" });
    const seen: string[] = [];
    const cursor = await drainChanges(client, { kinds: "orders" }, undefined, (c) => {
      seen.push(`${c.action}:${c.id}`);
    });
    assert.deepEqual(seen, ["created:ord_1", "deleted:ord_2"]);
    assert.equal(cursor, "p3");
    const asked = server.seen.filter((s) => s.path.endsWith("/changes"));
    assert.equal(asked.length, 2);
    assert.equal(asked[0]?.query.get("kinds"), "orders");
    assert.equal(asked[1]?.query.get("cursor"), "p2");
  });

  test("a cursor past the retention is a typed 410", async () => {
    const client = new PackrClient({ baseUrl: server.origin, token: "t.o.k" });
    await assert.rejects(readChanges(client, { cursor: "too-old" }), (e: unknown) => {
      assert.ok(e instanceof PackrApiError);
      assert.equal(e.status, 410);
      assert.equal(e.code, "cursor_expired");
      return true;
    });
  });
});
