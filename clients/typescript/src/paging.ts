// Following a listing's `next_cursor` until the last page (where it is null).
import type { Answer } from "./client.js";
import { UnexpectedResponseError, isJsonObject } from "./errors.js";

/** What every cursor-paged answer of the contract has; each page type is checked against it by tsc. */
export interface CursorPage {
  readonly next_cursor: string | null;
}

/**
 * Yields every page: the first without a cursor, then each with the `next_cursor` of the
 * one before, until a page's `next_cursor` is null. A page that hands back the cursor it
 * was asked with would loop forever: that is an `UnexpectedResponseError`.
 */
export async function* followCursor<Page extends CursorPage>(
  fetchPage: (cursor: string | undefined) => Promise<Answer<Page>>,
): AsyncGenerator<Page, void, undefined> {
  let cursor: string | undefined;
  for (;;) {
    const { status, body: page } = await fetchPage(cursor);
    const next: unknown = isJsonObject(page) ? page.next_cursor : undefined;
    if (next !== null && typeof next !== "string") {
      throw new UnexpectedResponseError(`${status}: a page without a next_cursor`, status);
    }
    if (next !== null && next === cursor) {
      throw new UnexpectedResponseError(`${status}: a page handing back the cursor it was asked with`, status);
    }
    yield page;
    if (next === null) return;
    cursor = next;
  }
}

/** The query of a page: the caller's filters, and the cursor when there is one. */
export function withCursor<Q extends object>(query: Q, cursor: string | undefined): Q | (Q & { cursor: string }) {
  return cursor === undefined ? query : { ...query, cursor };
}
