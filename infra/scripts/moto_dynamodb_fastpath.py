"""moto's DynamoDB Query at the cost of DynamoDB's: O(partition), not O(table).

moto 5.2.5 answers every Query by listing the whole table (`Table.all_items`, which also
sorts it by key) and then keeping the items of the partition asked for. A table of 40,000
items answers a Query in about 0.3 s whatever its partition holds, so every read a
function makes slows down as the table fills: `make chaos`'s sync phase, run on the table
the webhook phase had filled, read 61 full-sync pages in 16 minutes where the same phase
on a fresh table reads them in about 2.
DynamoDB reads a partition from its own storage.

Here Query hands moto's own code (`Table.query`, unchanged: conditions, sort, paging by
ExclusiveStartKey, limits, filters, projections) only the items that can be in the
partition asked for, in the order `all_items` would have listed them:
- a Query of the table: the items stored under its hash key (`Table.items[hash]`);
- a Query of an index: the items an index of attribute values names for the first
  hash-key condition. moto's loop still checks every condition on each of them.

The index of attribute values (`_Values`, one per table, per attribute queried) may name
more items than hold the value, never fewer:
- it is built from the whole table the first time an attribute is queried;
- every write that can give an item a value adds it: `Table.put_item` (PutItem,
  BatchWriteItem, transactions, PartiQL, imports, an UpdateItem creating its item) and
  the backend's `update_item` (UpdateItem and transactions' updates, which change the
  item in place), the latter even when it fails part-way;
- an item that lost the value, or was deleted, is dropped when a Query finds it stale;
- a copy of a table (a transaction's rollback copy, a backup) starts without the index and
  builds it again when first queried.

Every assumption about moto's internals is pinned: `install()` refuses to run unless moto
is 5.2.5 with the DynamoDB sources this was written against (their sha256 below).
The differential tests (infra/scripts/tests/test_moto_dynamodb_fastpath.py) run the same
writes against a table with the fast path and one without, and compare every Query.
"""

import inspect
import threading
from typing import Any

import moto_pin
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

MOTO_VERSION = "5.2.5"
# sha256 of the moto sources whose internals this module relies on.
MOTO_SOURCES = {
    "dynamodb/models/table.py": "3fecc9e51039f5a1ac5e302a21dc7aef48639a185ba01b11f9a6c32cf7853ba8",
    "dynamodb/models/__init__.py": "deee8b9c59bc8a4be642e9968c1673b6e4be57b989f8fd6777dd29786864ca86",
}


MotoVersionMismatch = moto_pin.MotoVersionMismatch


def check_moto() -> None:
    moto_pin.check(
        "moto_dynamodb_fastpath.py", "DynamoDB internals", "MOTO_DYNAMODB_FASTPATH",
        MOTO_VERSION, MOTO_SOURCES,
    )


_original_query = Table.query
_original_all_items = Table.all_items
_original_put_item = Table.put_item
_original_update_item = DynamoDBBackend.update_item
_query_signature = inspect.signature(_original_query)

# The candidates `all_items` answers with while this thread's Query runs: (table, items).
_local = threading.local()


def _key(item: Item) -> tuple[DynamoType, DynamoType | None]:
    return (item.hash_key, item.range_key)


def _listing_order(item: Item) -> Any:
    # `Table.all_items`'s own sort key.
    return (item.hash_key, item.range_key) if item.range_key else item.hash_key


def _live(table: Table, key: tuple[DynamoType, DynamoType | None]) -> Item | None:
    stored = table.items.get(key[0])  # `.get`: table.items is a defaultdict
    if stored is None:
        return None
    if table.range_key_attr:
        return stored.get(key[1])
    return stored


class _Values:
    """attribute name -> value -> keys of the items that had that value when written."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_attr: dict[str, dict[DynamoType, set]] = {}

    def __deepcopy__(self, memo: dict) -> "_Values":
        # A copy of the table (a transaction's rollback copy) builds its own when queried.
        return _Values()

    def note(self, item: Item) -> None:
        with self.lock:
            for attr, values in self.by_attr.items():
                _add(values, item, attr)

    def candidates(self, table: Table, attr: str, value: DynamoType) -> list[Item]:
        with self.lock:
            values = self.by_attr.get(attr)
            if values is None:
                values = {}
                for item in _original_all_items(table):
                    _add(values, item, attr)
                self.by_attr[attr] = values
            keys = values.get(value)
            if not keys:
                return []
            found, stale = [], []
            for key in keys:
                item = _live(table, key)
                held = item.attrs.get(attr) if item is not None else None
                if held is not None and held == value:
                    found.append(item)
                else:
                    stale.append(key)
            keys.difference_update(stale)
            return found


def _add(values: dict, item: Item, attr: str) -> None:
    value = item.attrs.get(attr)
    if value is None:
        return
    try:
        values.setdefault(value, set()).add(_key(item))
    except TypeError:
        pass  # a list, map or set: never a key's value, so no Query asks for it


def _values(table: Table) -> _Values:
    values = table.__dict__.get("_fastpath_values")
    if values is None:
        values = table.__dict__.setdefault("_fastpath_values", _Values())
    return values


def _candidates(table: Table, args: dict[str, Any]) -> list[Item] | None:
    """The items that can answer this Query, or None to let moto list the whole table."""
    if table.__dict__.get("_fastpath_off"):
        return None
    index_name = args.get("index_name")
    if not index_name:
        hash_key = args.get("hash_key")
        if hash_key is None:
            return None
        stored = table.items.get(hash_key)
        if stored is None:
            return []
        if table.range_key_attr:
            return sorted(stored.values(), key=_listing_order)
        return [stored]
    if index_name not in {i.name for i in table.all_indexes()}:
        return None  # moto's own error
    conditions = args.get("hash_key_conditions") or []
    if not conditions:
        return None
    attr, value = conditions[0]
    found = _values(table).candidates(table, attr, value)
    found.sort(key=_listing_order)
    return found


def query(self: Table, *args: Any, **kwargs: Any) -> Any:
    bound = _query_signature.bind(self, *args, **kwargs)
    found = _candidates(self, bound.arguments)
    if found is None:
        return _original_query(self, *args, **kwargs)
    previous = getattr(_local, "listing", None)
    _local.listing = (self, found)
    try:
        return _original_query(self, *args, **kwargs)
    finally:
        _local.listing = previous


def all_items(self: Table) -> list[Item]:
    listing = getattr(_local, "listing", None)
    if listing is not None and listing[0] is self:
        return list(listing[1])
    return _original_all_items(self)


def put_item(self: Table, *args: Any, **kwargs: Any) -> Item:
    item = _original_put_item(self, *args, **kwargs)
    values = self.__dict__.get("_fastpath_values")
    if values is not None:
        values.note(item)
    return item


def update_item(self: DynamoDBBackend, table_name: str, key: dict, *args: Any, **kwargs: Any) -> Any:
    try:
        return _original_update_item(self, table_name, key, *args, **kwargs)
    finally:
        # The item changes in place, and may have changed before a failure.
        try:
            table = self.get_table(table_name)
            item = table.get_item(*self.get_keys_value(table, key))
        except Exception:
            item = None
        values = table.__dict__.get("_fastpath_values") if item is not None else None
        if values is not None:
            values.note(item)


def install() -> None:
    check_moto()
    Table.query = query
    Table.all_items = all_items
    Table.put_item = put_item
    DynamoDBBackend.update_item = update_item
