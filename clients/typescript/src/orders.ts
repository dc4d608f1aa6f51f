// Orders: `GET /orders` followed across pages, `POST /orders` with an Idempotency-Key.
import type { components } from "./generated/packr.js";
import type { Answer, PackrClient } from "./client.js";
import type { BodyOf, HeadersOf, OkHeadersOf, OkOf, Operation, QueryOf } from "./contract.js";
import { UnexpectedResponseError } from "./errors.js";
import { followCursor, withCursor } from "./paging.js";

type ListOrders = Operation<"/orders", "get">;
type CreateOrder = Operation<"/orders", "post">;

export type Order = components["schemas"]["Order"];
export type OrderPage = OkOf<ListOrders>;
/** The filters of `GET /orders` (`brand_id`, `status`, `updated_since`, `limit`); the cursor is followed for you. */
export type ListOrdersQuery = Omit<QueryOf<ListOrders>, "cursor">;
export type CreateOrderBody = BodyOf<CreateOrder>;

/** Every page of `GET /orders` for these filters, newest first, following `next_cursor`. */
export function listOrderPages(client: PackrClient, query: ListOrdersQuery = {}): AsyncGenerator<OrderPage, void> {
  return followCursor<OrderPage>((cursor) => client.get("/orders", withCursor(query, cursor)));
}

/** Every order for these filters, newest first, across all pages. */
export async function* listOrders(client: PackrClient, query: ListOrdersQuery = {}): AsyncGenerator<Order, void> {
  for await (const page of listOrderPages(client, query)) {
    if (!Array.isArray(page.items)) throw new UnexpectedResponseError("GET /orders: a page without items", 200);
    yield* page.items;
  }
}

const REPLAYED = "Idempotent-Replayed" satisfies OkHeadersOf<CreateOrder>;

export interface CreatedOrder {
  readonly order: Order;
  /** The key the request was sent with: send the same body with it again to retry safely. */
  readonly idempotencyKey: string;
  /** True when this is the saved answer to an earlier request with the same key. */
  readonly replayed: boolean;
}

/**
 * `POST /orders`. The Idempotency-Key is the caller's (to retry a write it may have made
 * before) or, when left out, a new random UUID.
 */
export async function createOrder(
  client: PackrClient,
  body: CreateOrderBody,
  options: { readonly idempotencyKey?: string } = {},
): Promise<CreatedOrder> {
  const idempotencyKey = options.idempotencyKey ?? crypto.randomUUID();
  const headers: HeadersOf<CreateOrder> = { "Idempotency-Key": idempotencyKey };
  const answer: Answer<Order> = await client.post("/orders", body, headers);
  return { order: answer.body, idempotencyKey, replayed: answer.headers.get(REPLAYED) === "true" };
}

