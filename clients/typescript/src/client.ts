// The HTTP core: one `PackrClient` holds the base URL and the bearer token; `get` and
// `post` take a path of the contract, type their query, headers and body from the
// generated operation, and answer its JSON success body or throw one of ./errors.ts.
import type { BodyOf, HeadersOf, Method, OkOf, Operation, PlainPathWith, QueryOf } from "./contract.js";
import { TransportError, UnexpectedResponseError, errorFromAnswer } from "./errors.js";

export interface PackrClientOptions {
  /** The API's base URL: the stage URL, or the local gateway of `make dev`; the contract's paths are appended to it. */
  readonly baseUrl: string;
  /** The bearer token (a JWT), sent as `Authorization: Bearer <token>`. */
  readonly token: string;
  /** The fetch to use; the global one when left out. */
  readonly fetch?: typeof fetch;
}

/** A success answer: its status, its headers and its JSON body as the contract types it. */
export interface Answer<B> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: B;
}

const VISIBLE_ASCII = /^[\x21-\x7E]+$/;

export class PackrClient {
  readonly #base: string;
  readonly #token: string;
  readonly #fetch: typeof fetch;

  /** Throws a TypeError when `baseUrl` is not an absolute http(s) URL or `token` is empty or not visible ASCII. */
  constructor(options: PackrClientOptions) {
    let base: URL;
    try {
      base = new URL(options.baseUrl);
    } catch {
      throw new TypeError("baseUrl is not an absolute URL");
    }
    if (base.protocol !== "http:" && base.protocol !== "https:") throw new TypeError("baseUrl is not http(s)");
    if (base.search !== "" || base.hash !== "") throw new TypeError("baseUrl has a query or a fragment");
    if (!VISIBLE_ASCII.test(options.token)) throw new TypeError("token is empty or not visible ASCII");
    this.#base = base.href.replace(/\/+$/, "");
    this.#token = options.token;
    this.#fetch = options.fetch ?? globalThis.fetch;
  }

  get<P extends PlainPathWith<"get">>(
    path: P,
    query?: QueryOf<Operation<P, "get">>,
  ): Promise<Answer<OkOf<Operation<P, "get">>>> {
    return this.#send("get", path, query, undefined, undefined);
  }

  post<P extends PlainPathWith<"post">>(
    path: P,
    body: BodyOf<Operation<P, "post">>,
    headers: HeadersOf<Operation<P, "post">>,
  ): Promise<Answer<OkOf<Operation<P, "post">>>> {
    return this.#send("post", path, undefined, body, headers);
  }

  async #send<B>(
    method: Method,
    path: string,
    query: object | undefined,
    body: unknown,
    headers: object | undefined,
  ): Promise<Answer<B>> {
    const url = new URL(this.#base + path);
    appendQuery(url.searchParams, query);
    const requestHeaders = new Headers({ accept: "application/json", authorization: `Bearer ${this.#token}` });
    for (const [name, value] of Object.entries(headers ?? {})) {
      if (typeof value !== "string") throw new TypeError(`header ${name} is not a string`);
      requestHeaders.set(name, value);
    }
    if (body !== undefined) requestHeaders.set("content-type", "application/json");
    const what = `${method.toUpperCase()} ${path}`;
    let response: Response;
    let text: string;
    try {
      response = await this.#fetch(url, {
        method: method.toUpperCase(),
        headers: requestHeaders,
        body: body === undefined ? null : JSON.stringify(body),
      });
      text = await response.text();
    } catch (cause) {
      throw new TransportError(`${what}: no answer`, { cause });
    }
    const json = parseJson(text);
    if (!response.ok) throw errorFromAnswer(response.status, json);
    if (json === undefined) {
      throw new UnexpectedResponseError(`${what}: ${response.status} with a body that is not JSON`, response.status);
    }
    // The one unchecked step: a 2xx body is taken as the contract types it. The server is
    // held to the same document by its own contract tests (schemathesis in `make test`).
    return { status: response.status, headers: response.headers, body: json as B };
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** Query values as the API reads them: strings, numbers, booleans; a list as one comma-separated value. */
function appendQuery(params: URLSearchParams, query: object | undefined): void {
  for (const [name, value] of Object.entries(query ?? {})) {
    if (value === undefined || value === null) continue;
    if (Array.isArray(value)) {
      params.append(name, value.map(String).join(","));
    } else if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
      params.append(name, String(value));
    } else {
      throw new TypeError(`query parameter ${name} is not a string, number, boolean or list`);
    }
  }
}
