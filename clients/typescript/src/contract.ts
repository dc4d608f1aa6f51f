// Type-level views of the generated contract (src/generated/packr.ts, made from the
// repository's openapi.json by openapi-typescript): an operation's query, headers, JSON
// request body and JSON success body, looked up by path and method. Nothing here restates
// a schema; every type below is read out of the generated `paths`.
import type { paths } from "./generated/packr.js";

export type Method = "get" | "post" | "put";

/** The paths of the contract that have an operation for `M`. */
export type PathWith<M extends Method> = {
  [P in keyof paths]: paths[P] extends Record<M, object> ? P : never;
}[keyof paths];

/** The paths that have an operation for `M` and no path parameter (`/orders`, not `/orders/{order_id}`). */
export type PlainPathWith<M extends Method> = {
  [P in PathWith<M>]: Operation<P, M> extends { parameters: { path?: never } } ? P : never;
}[PathWith<M>];

/** The generated operation (`operations["ListOrders"]`, …) of `M` on `P`. */
export type Operation<P extends keyof paths, M extends Method> = paths[P][M];

/** The query parameters of an operation (`{}` when it has none). */
export type QueryOf<O> = O extends { parameters: { query?: infer Q } } ? Exclude<Q, undefined> : never;

/** The header parameters of an operation (`{}` when it has none). */
export type HeadersOf<O> = O extends { parameters: { header: infer H } } ? H : Record<never, never>;

/** The JSON request body of an operation. */
export type BodyOf<O> = O extends { requestBody: { content: { "application/json": infer B } } } ? B : never;

/** The JSON body of an operation's 200 or 201 answer. */
export type OkOf<O> = O extends { responses: infer R } ? JsonOf<R[Extract<keyof R, 200 | 201>]> : never;

/** The response headers the contract names for an operation's 200 or 201 answer. */
export type OkHeadersOf<O> = O extends { responses: infer R }
  ? KnownKeys<HeadersOfResponse<R[Extract<keyof R, 200 | 201>]>>
  : never;

type JsonOf<R> = R extends { content: { "application/json": infer B } } ? B : never;
type HeadersOfResponse<R> = R extends { headers: infer H } ? H : never;

/** The keys a type names, without its index signature (`[name: string]: unknown`). */
export type KnownKeys<T> = keyof { [K in keyof T as string extends K ? never : K]: T[K] };

/** The keys of `T` that are not optional. */
export type RequiredKeys<T> = { [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? never : K }[keyof T];
