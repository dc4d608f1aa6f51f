// The Packr client: types generated from openapi.json (./generated/packr.ts, by
// `npm run generate`), an HTTP core typed by them, and one module per resource.
// A new operation is a module beside orders.ts using `client.get`/`client.post`, exported here.
export type { components, operations, paths } from "./generated/packr.js";
export { PackrClient, type Answer, type PackrClientOptions } from "./client.js";
export {
  GatewayError,
  PackrApiError,
  PackrClientError,
  PackrResponseError,
  TransportError,
  UnexpectedResponseError,
  type ErrorBody,
  type GatewayErrorBody,
} from "./errors.js";
export { followCursor, withCursor, type CursorPage } from "./paging.js";
export {
  createOrder,
  listOrderPages,
  listOrders,
  type CreateOrderBody,
  type CreatedOrder,
  type ListOrdersQuery,
  type Order,
  type OrderPage,
} from "./orders.js";
export {
  drainChanges,
  readChanges,
  type Change,
  type ChangesPage,
  type ChangesQuery,
} from "./changes.js";
