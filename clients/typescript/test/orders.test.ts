// The client against a local HTTP server speaking the contract: pages followed to the
// end, the token and base URL used, the Idempotency-Key sent, each error shape typed.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  GatewayError,
  PackrApiError,
  PackrClient,
  TransportError,
  UnexpectedResponseError,
  createOrder,
  listOrders,
  type CreateOrderBody,
  type ErrorBody,
  type Order,
  type OrderPage,
} from "../src/index.js";
import { json, startServer, type Reply, type Seen, type TestServer } from "./server.js";

const TOKEN = "header.payload.signature";

function order(id: string): Order {
  return {
    id,
    tenant_id: "t_test",
    connection_id: "conn_test",
    status: "open",
    created_date: "2026-12-01T10:00:00Z",
    updated_date: "2026-12-01T10:00:00Z",
  };
}

const NEW_ORDER: CreateOrderBody = {
  brand_id: "brand_a",
  reference_id: "ref-1",
  order_number: "#1001",
  channel: "web",
  shipping_method_id: "ground",
  service_level: "standard",
  currency: "USD",
  ship_to_address: { full_name: "A Person", address1: "1 Main St", city: "Springfield", country: "US" },
  line_items: [{ sku: "SKU-1", quantity: 2 }],
};

// Two pages of `GET /prod/orders`: the first without a cursor, the second with cursor `c2`.
function ordersRoute(request: Seen): Reply {
  const cursor = request.query.get("cursor");
  const page: OrderPage =
    cursor === null
      ? { items: [order("ord_3"), order("ord_2")], next_cursor: "c2" }
      : cursor === "c2"
        ? { items: [order("ord_1")], next_cursor: null }
        : { items: [], next_cursor: null };
  return json(200, page);
}

describe("listOrders", () => {
  let server: TestServer;
  before(async () => {
    server = await startServer((request) =>
      request.method === "GET" && request.path === "/prod/orders" ? ordersRoute(request) : json(404, {}),
    );
  });
  after(() => server.close());

  test("follows next_cursor across pages with the bearer token and the same filters", async () => {
    // given a client of a base URL with a stage path
    const client = new PackrClient({ baseUrl: `${server.origin}/prod/`, token: TOKEN });

    // when every order of a brand is listed
    const ids: string[] = [];
    for await (const listed of listOrders(client, { brand_id: "brand_a", limit: 2 })) ids.push(listed.id);

    // then both pages were read, in order, each with the token and the filters
    assert.deepEqual(ids, ["ord_3", "ord_2", "ord_1"]);
    assert.equal(server.seen.length, 2);
    assert.deepEqual(
      server.seen.map((s) => [s.path, s.query.toString(), s.headers.authorization]),
      [
        ["/prod/orders", "brand_id=brand_a&limit=2", `Bearer ${TOKEN}`],
        ["/prod/orders", "brand_id=brand_a&limit=2&cursor=c2", `Bearer ${TOKEN}`],
      ],
    );
  });
});

describe("createOrder", () => {
  const keys = new Set<string>();
  let server: TestServer;
  before(async () => {
    server = await startServer((request) => {
      const key = request.headers["idempotency-key"];
      if (typeof key !== "string") return json(400, { error: { code: "missing_key", message: "no key", request_id: "r1" } });
      const replayed = keys.has(key);
      keys.add(key);
      return json(201, order("ord_new"), replayed ? { "Idempotent-Replayed": "true" } : {});
    });
  });
  after(() => server.close());

  test("sends the caller's Idempotency-Key and reports the replay of a retry", async () => {
    // given a client
    const client = new PackrClient({ baseUrl: server.origin, token: TOKEN });

    // when the same order is created twice with one key
    const first = await createOrder(client, NEW_ORDER, { idempotencyKey: "order-1001" });
    const retry = await createOrder(client, NEW_ORDER, { idempotencyKey: "order-1001" });

    // then both requests carried the key and the body, and only the retry is a replay
    assert.equal(server.seen.length, 2);
    for (const seen of server.seen) {
      assert.equal(seen.method, "POST");
      assert.equal(seen.path, "/orders");
      assert.equal(seen.headers["idempotency-key"], "order-1001");
      assert.equal(seen.headers["content-type"], "application/json");
      assert.deepEqual(JSON.parse(seen.body), NEW_ORDER);
    }
    assert.deepEqual([first.replayed, retry.replayed], [false, true]);
    assert.equal(first.order.id, "ord_new");
    assert.equal(retry.idempotencyKey, "order-1001");
  });

  test("without a key sends a new UUID each call and returns it", async () => {
    // given a client
    const client = new PackrClient({ baseUrl: server.origin, token: TOKEN });
    const before = server.seen.length;

    // when two orders are created without keys
    const a = await createOrder(client, NEW_ORDER);
    const b = await createOrder(client, NEW_ORDER);

    // then each request carried its own UUID, the one returned
    const sent = server.seen.slice(before).map((s) => s.headers["idempotency-key"]);
    assert.deepEqual(sent, [a.idempotencyKey, b.idempotencyKey]);
    assert.notEqual(a.idempotencyKey, b.idempotencyKey);
    for (const key of sent) assert.match(String(key), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });
});

describe("errors", () => {
  const VALIDATION: ErrorBody = {
    error: {
      code: "validation_failed",
      message: "The body is invalid",
      request_id: "req_1",
      details: { fields: { "line_items[0].quantity": ["must be at least 1"] } },
    },
  };
  const answers: Record<string, Reply> = {
    "/validation/orders": json(422, VALIDATION),
    "/quota/orders": json(429, { error: { code: "quota_exceeded", message: "Slow down", request_id: "req_2", retry_after: 7 } }),
    "/gateway/orders": json(401, { message: "Unauthorized" }),
    "/html/orders": { status: 502, body: "<html>Bad Gateway</html>", headers: { "content-type": "text/html" } },
    "/loop/orders": json(200, { items: [], next_cursor: "same" }),
    "/no-cursor/orders": json(200, { items: [] }),
  };
  let server: TestServer;
  before(async () => {
    server = await startServer((request) => answers[request.path] ?? json(404, {}));
  });
  after(() => server.close());

  const client = (stage: string) => new PackrClient({ baseUrl: `${server.origin}/${stage}`, token: TOKEN });
  const drain = async (stage: string) => {
    for await (const _ of listOrders(client(stage))) {
      // read to the end
    }
  };

  test("Packr's error envelope is a PackrApiError with its code, request id and fields", async () => {
    // given a server answering 422 with Packr's envelope; when an order is created
    const error = await createOrder(client("validation"), NEW_ORDER).catch((e: unknown) => e);
    // then the error carries the envelope
    assert.ok(error instanceof PackrApiError);
    assert.equal(error.status, 422);
    assert.equal(error.code, "validation_failed");
    assert.equal(error.requestId, "req_1");
    assert.deepEqual(error.fields, { "line_items[0].quantity": ["must be at least 1"] });
    assert.equal(error.retryAfter, undefined);
    assert.equal(error.name, "PackrApiError");
  });

  test("a quota refusal carries its retry_after", async () => {
    const error = await createOrder(client("quota"), NEW_ORDER).catch((e: unknown) => e);
    assert.ok(error instanceof PackrApiError);
    assert.deepEqual([error.status, error.code, error.retryAfter], [429, "quota_exceeded", 7]);
  });

  test("API Gateway's own answer is a GatewayError", async () => {
    const error = await drain("gateway").catch((e: unknown) => e);
    assert.ok(error instanceof GatewayError);
    assert.deepEqual([error.status, error.body.message], [401, "Unauthorized"]);
  });

  test("a body that is not JSON is an UnexpectedResponseError", async () => {
    const error = await drain("html").catch((e: unknown) => e);
    assert.ok(error instanceof UnexpectedResponseError);
    assert.equal(error.status, 502);
  });

  test("a page handing back its own cursor stops the loop instead of repeating it", async () => {
    const before = server.seen.length;
    const error = await drain("loop").catch((e: unknown) => e);
    assert.ok(error instanceof UnexpectedResponseError);
    assert.equal(server.seen.length - before, 2);
  });

  test("a page without next_cursor is an UnexpectedResponseError", async () => {
    const error = await drain("no-cursor").catch((e: unknown) => e);
    assert.ok(error instanceof UnexpectedResponseError);
  });

  test("a server that is not there is a TransportError with its cause", async () => {
    // given a port nothing listens on any more
    const gone = await startServer(() => json(200, {}));
    await gone.close();

    // when an order is created there, then the error says no answer came, its cause kept
    const refused = await createOrder(new PackrClient({ baseUrl: gone.origin, token: TOKEN }), NEW_ORDER).catch(
      (e: unknown) => e,
    );
    assert.ok(refused instanceof TransportError);
    assert.ok(refused.cause instanceof Error);
  });

  test("a base URL that is not http(s) or a token that is empty is refused at construction", () => {
    assert.throws(() => new PackrClient({ baseUrl: "ftp://127.0.0.1", token: TOKEN }), TypeError);
    assert.throws(() => new PackrClient({ baseUrl: "not a url", token: TOKEN }), TypeError);
    assert.throws(() => new PackrClient({ baseUrl: "http://127.0.0.1", token: "" }), TypeError);
  });
});
