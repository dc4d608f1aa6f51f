// The changes feed: `GET /changes`, oldest first, every resource, deletions included.
// A consumer keeps `next_cursor` (always present) and asks again; `has_more: false`
// means it has everything up to the feed's horizon and should wait before the next poll.
import type { PackrClient } from "./client.js";
import type { OkOf, Operation, QueryOf } from "./contract.js";

type ReadChanges = Operation<"/changes", "get">;

export type ChangesQuery = QueryOf<ReadChanges>;
export type ChangesPage = OkOf<ReadChanges>;
export type Change = ChangesPage["changes"][number];

/** One page after `query.cursor` (from the start without one). A cursor older than the
 * feed's retention is a `PackrApiError` with status 410 (`cursor_expired`): start again
 * without a cursor. */
export async function readChanges(client: PackrClient, query: ChangesQuery = {}): Promise<ChangesPage> {
  return (await client.get("/changes", query)).body;
}

/** Every change ready now after `cursor`, page by page; returns the cursor to keep for the
 * next poll. `onChange` sees each change once, oldest first. */
export async function drainChanges(
  client: PackrClient,
  query: Omit<ChangesQuery, "cursor">,
  cursor: string | undefined,
  onChange: (change: Change) => void | Promise<void>,
): Promise<string> {
  let next = cursor;
  for (let pages = 0; ; pages++) {
    const page = await readChanges(client, next === undefined ? query : { ...query, cursor: next });
    for (const change of page.changes) await onChange(change);
    next = page.next_cursor;
    if (!page.has_more) return next;
    if (pages > 10_000) throw new Error("GET /changes: more than 10,000 pages in one drain");
  }
}
