// What the client throws. An answer outside 2xx becomes `PackrApiError` (Packr's error
// envelope, `components["schemas"]["Error"]`), `GatewayError` (API Gateway's own
// `{"message": …}`, `components["schemas"]["GatewayError"]`) or `UnexpectedResponseError`
// (neither); a request that got no answer becomes `TransportError`, its cause kept.
import type { components } from "./generated/packr.js";
import type { RequiredKeys } from "./contract.js";

export type ErrorBody = components["schemas"]["Error"];
export type ErrorDetail = ErrorBody["error"];
export type GatewayErrorBody = components["schemas"]["GatewayError"];

/** Every error this client throws. */
export abstract class PackrClientError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An answer that is not a success. */
export abstract class PackrResponseError extends PackrClientError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

/** Packr's own error envelope: a stable `code`, the `request_id` to quote, and per-field details. */
export class PackrApiError extends PackrResponseError {
  constructor(
    status: number,
    readonly body: ErrorBody,
  ) {
    super(`${status} ${body.error.code}: ${body.error.message} (request ${body.error.request_id})`, status);
  }

  get code(): string {
    return this.body.error.code;
  }

  get requestId(): string {
    return this.body.error.request_id;
  }

  /** What is wrong with each field, by its path (`line_items[0].quantity`); empty when none is named. */
  get fields(): Readonly<Record<string, readonly string[]>> {
    return this.body.error.details?.fields ?? {};
  }

  /** Seconds to wait before retrying, when the answer says so (429, 503). */
  get retryAfter(): number | undefined {
    return this.body.error.retry_after;
  }
}

/** API Gateway's own answer (authorizer 401/403, throttling 429, function failures 5xx). */
export class GatewayError extends PackrResponseError {
  constructor(
    status: number,
    readonly body: GatewayErrorBody,
  ) {
    super(`${status} from the API gateway: ${body.message}`, status);
  }
}

/** An answer the contract does not describe: not JSON, or JSON of another shape. */
export class UnexpectedResponseError extends PackrResponseError {}

/** The request got no answer (connection refused or reset, DNS, an aborted request). */
export class TransportError extends PackrClientError {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
  }
}

// The runtime checks below read their field names and types from the generated types:
// a field renamed, added as required or retyped in openapi.json fails `tsc` here.
type TypeName<T> = T extends string ? "string" : T extends number ? "number" : never;

const ERROR_DETAIL_FIELDS = {
  code: "string",
  message: "string",
  request_id: "string",
} as const satisfies { [K in RequiredKeys<ErrorDetail>]: TypeName<ErrorDetail[K]> };

const GATEWAY_ERROR_FIELDS = {
  message: "string",
} as const satisfies { [K in RequiredKeys<GatewayErrorBody>]: TypeName<GatewayErrorBody[K]> };

const RETRY_AFTER: keyof ErrorDetail = "retry_after";
const DETAILS: keyof ErrorDetail = "details";
const FIELDS: keyof NonNullable<ErrorDetail["details"]> = "fields";
const ENVELOPE: keyof ErrorBody = "error";

type JsonObject = Record<string, unknown>;

export function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function hasFields(value: JsonObject, fields: Readonly<Record<string, "string" | "number">>): boolean {
  return Object.entries(fields).every(([name, type]) => typeof value[name] === type);
}

function isFieldMessages(value: unknown): boolean {
  return (
    isJsonObject(value) &&
    Object.values(value).every((messages) => Array.isArray(messages) && messages.every((m) => typeof m === "string"))
  );
}

export function isErrorBody(value: unknown): value is ErrorBody {
  if (!isJsonObject(value)) return false;
  const detail = value[ENVELOPE];
  if (!isJsonObject(detail) || !hasFields(detail, ERROR_DETAIL_FIELDS)) return false;
  const retryAfter = detail[RETRY_AFTER];
  if (retryAfter !== undefined && typeof retryAfter !== "number") return false;
  const details = detail[DETAILS];
  if (details === undefined) return true;
  return isJsonObject(details) && (details[FIELDS] === undefined || isFieldMessages(details[FIELDS]));
}

export function isGatewayErrorBody(value: unknown): value is GatewayErrorBody {
  return isJsonObject(value) && !(ENVELOPE in value) && hasFields(value, GATEWAY_ERROR_FIELDS);
}

/** The error for a non-2xx answer, from its status and its body (parsed JSON, or undefined when not JSON). */
export function errorFromAnswer(status: number, body: unknown): PackrResponseError {
  if (isErrorBody(body)) return new PackrApiError(status, body);
  if (isGatewayErrorBody(body)) return new GatewayError(status, body);
  return new UnexpectedResponseError(
    body === undefined ? `${status} with a body that is not JSON` : `${status} with a JSON body of no known error shape`,
    status,
  );
}
