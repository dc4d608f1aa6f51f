"""moto's SQS standard queues at the cost per call of SQS: O(batch), not O(queue depth).

moto 5.2.5 keeps a queue's messages in one list. Every ReceiveMessage builds the list of
the visible ones (a walk of the whole queue), every DeleteMessage and
ChangeMessageVisibility searches it (building each message's list of handles on the way),
and every read of the queue's `attributes` (SendMessage reads them, GetQueueAttributes
reads them twice per name asked, the retention check of each received message twice)
walks it three times for the Approximate* counts. A backlog of a few thousand messages
makes every call cost milliseconds to seconds, which SQS does not.

Here a standard queue keeps, beside moto's own objects (the same `Message`s, the same
`pending_messages` and `deleted_messages` sets), an index:
- `order`: the messages in moto's list order (insertion; a message moved to a DLQ is
  appended there), which is the order moto delivers visible messages in;
- `ready`: a heap of the available (visible, not delayed) messages by that order;
- `waiting`: a heap of the others by the time they become available;
- `handles`: every receipt handle each message has had, to the message;
- live counts of ready, invisible and delayed messages (GetQueueAttributes in O(1)).
Each message's index entry carries a token; moving a message invalidates its old heap
entry (lazy deletion), so every operation is O(batch · log n).

The receive loop is moto's, step for step (pending bookkeeping, redrive to the DLQ at
maxReceiveCount on receive, `mark_received`, the deep copy filtered by
MessageAttributeNames, the retention check that stops the walk, long polling in 1 s waits
on the queue's condition). FIFO queues keep moto's code unchanged (their group blocking
walks the queue; the local stack's FIFO queue is shallow). The differential tests
(infra/scripts/tests/test_moto_sqs_fastpath.py) run the same calls against both.

Every assumption about moto's internals is pinned: `install()` refuses to run unless moto
is 5.2.5 with the SQS sources this was written against (their sha256 below).
"""

import heapq
import itertools
from copy import deepcopy
from typing import Any

import moto_pin
from moto.core.utils import unix_time, unix_time_millis
from moto.sqs import models
from moto.sqs.exceptions import InvalidParameterValue, ReceiptHandleIsInvalid
from moto.sqs.models import Message, Queue, SQSBackend, sqs_backends

MOTO_VERSION = "5.2.5"
# sha256 of the moto sources whose internals this module relies on.
MOTO_SOURCES = {
    "sqs/models.py": "c04224ad14c39581f5c54260911971fabac7c04bc956c34d23e3c1ad3d838f41",
    "sqs/responses.py": "08197bafb9ae63f3477ffdf535ad2cea7bbcccd8842abe94e08b2889dfeea033",
    "sqs/utils.py": "9459db36bba2cfd92742fd2836412afabafb8c158a4e94dec780ee9b1b8895fd",
}

READY, INVISIBLE, DELAYED = "ready", "invisible", "delayed"

# New standard queues get the index while this is true (the differential tests create
# queues both ways in one backend); FIFO queues never do.
enabled = True


MotoVersionMismatch = moto_pin.MotoVersionMismatch


def check_moto() -> None:
    moto_pin.check("moto_sqs_fastpath.py", "SQS internals", "MOTO_SQS_FASTPATH", MOTO_VERSION, MOTO_SOURCES)


class _Slot:
    """A message's place in one queue's index."""

    __slots__ = ("seq", "token", "where")

    def __init__(self, seq: int):
        self.seq = seq
        self.token = 0
        self.where: str | None = None


def _available(message: Message) -> bool:
    # moto's own definition (Queue.messages): visible and not delayed.
    return message.visible and not message.delayed


class Index:
    """The messages of one standard queue, indexed (see the module's docstring)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.order: dict[int, Message] = {}
        self.handles: dict[str, Message] = {}
        self.ready: list[tuple[int, int, Message]] = []
        self.waiting: list[tuple[float, int, int, Message]] = []
        self.counts = {READY: 0, INVISIBLE: 0, DELAYED: 0}
        self._seq = itertools.count()

    def add(self, message: Message) -> None:
        slot = _Slot(next(self._seq))
        message._fastpath_slot = slot  # type: ignore[attr-defined]
        self.order[slot.seq] = message
        for handle in message.all_receipt_handles:
            if handle is not None:
                self.handles[handle] = message
        self.place(message)

    def _unplace(self, slot: _Slot) -> None:
        if slot.where is not None:
            self.counts[slot.where] -= 1
            slot.where = None
        slot.token += 1  # the heap entry left behind is stale

    def place(self, message: Message) -> None:
        """(Re)files a message by its state now: after any change to its visibility."""
        slot: _Slot = message._fastpath_slot  # type: ignore[attr-defined]
        self._unplace(slot)
        if _available(message):
            slot.where = READY
            heapq.heappush(self.ready, (slot.seq, slot.token, message))
        elif message.delayed:
            slot.where = DELAYED
            at = max(message.delayed_until, message.visible_at)
            heapq.heappush(self.waiting, (at, slot.seq, slot.token, message))
        else:
            slot.where = INVISIBLE
            heapq.heappush(self.waiting, (message.visible_at, slot.seq, slot.token, message))
        self.counts[slot.where] += 1

    def remove(self, message: Message) -> None:
        slot: _Slot = message._fastpath_slot  # type: ignore[attr-defined]
        self._unplace(slot)
        del self.order[slot.seq]
        for handle in message.all_receipt_handles:
            if handle is not None and self.handles.get(handle) is message:
                del self.handles[handle]

    def drain(self) -> None:
        """Moves the messages whose visibility timeout or delay has passed to `ready`."""
        now = unix_time_millis()
        held = []
        while self.waiting and self.waiting[0][0] <= now:
            entry = heapq.heappop(self.waiting)
            message = entry[3]
            slot: _Slot = message._fastpath_slot  # type: ignore[attr-defined]
            if entry[2] != slot.token:
                continue
            if _available(message):
                self.counts[slot.where] -= 1  # type: ignore[index]
                slot.where = READY
                self.counts[READY] += 1
                heapq.heappush(self.ready, (slot.seq, slot.token, message))
            else:  # at its boundary millisecond (moto's `visible` is strict)
                held.append(entry)
        for entry in held:
            heapq.heappush(self.waiting, entry)

    def pop_ready(self) -> Message | None:
        """The first available message in moto's order, taken out of `ready`."""
        while self.ready:
            _, token, message = heapq.heappop(self.ready)
            slot: _Slot = message._fastpath_slot  # type: ignore[attr-defined]
            if token == slot.token:
                self._unplace(slot)
                return message
        return None

    def has_ready(self) -> bool:
        self.drain()
        return self.counts[READY] > 0

    def ready_messages(self) -> list[Message]:
        self.drain()
        return [m for _, token, m in sorted(self.ready) if token == m._fastpath_slot.token]


def _index(queue: Queue) -> Index | None:
    return queue.__dict__.get("_fastpath_index")


# The calls the receive loop makes on a message, through names the tests can break.
_mark_received = Message.mark_received
_filter_message_attributes = models._filter_message_attributes

_orig = {
    "Queue.__init__": Queue.__init__,
    "Queue.messages": Queue.messages,
    "Queue.approximate_number_of_messages": Queue.approximate_number_of_messages,
    "Queue.approximate_number_of_messages_delayed": Queue.approximate_number_of_messages_delayed,
    "Queue.approximate_number_of_messages_not_visible": Queue.approximate_number_of_messages_not_visible,
    "Queue.add_message": Queue.add_message,
    "Queue.delete_message": Queue.delete_message,
    "Queue.wait_for_messages": Queue.wait_for_messages,
    "SQSBackend.receive_message": SQSBackend.receive_message,
    "SQSBackend.change_message_visibility": SQSBackend.change_message_visibility,
}


def _queue_init(self: Queue, name: str, region: str, account_id: str, **kwargs: Any) -> None:
    self.__dict__["_fastpath_index"] = None
    _orig["Queue.__init__"](self, name, region, account_id, **kwargs)
    if enabled and not self.fifo_queue:
        index = Index()
        for message in self.__dict__.pop("_fastpath_list"):
            index.add(message)
        self.__dict__["_fastpath_index"] = index


def _get_messages_list(self: Queue) -> list[Message]:
    index = _index(self)
    if index is None:
        return self.__dict__["_fastpath_list"]
    return list(index.order.values())  # a copy: moto's code only assigns it (purge)


def _set_messages_list(self: Queue, value: list[Message]) -> None:
    index = _index(self)
    if index is None:
        self.__dict__["_fastpath_list"] = value
        return
    with self._messages_lock:
        index.clear()
        for message in value:
            index.add(message)


def _count_property(name: str, kind: str) -> property:
    original = _orig[name]

    def count(self: Queue) -> int:
        index = _index(self)
        if index is None:
            return original.fget(self)
        with self._messages_lock:
            index.drain()
            return index.counts[kind]

    return property(count)


def _messages(self: Queue) -> list[Message]:
    index = _index(self)
    if index is None:
        return _orig["Queue.messages"].fget(self)
    with self._messages_lock:
        return index.ready_messages()


def _add_message(self: Queue, message: Message) -> None:
    index = _index(self)
    if index is None:
        return _orig["Queue.add_message"](self, message)
    # moto's add_message of a standard queue: append, notify, then its Lambda mappings.
    with self._messages_lock:
        index.add(message)
        self._messages_lock.notify_all()

    for arn, esm in self.lambda_event_source_mappings.items():
        if not esm.enabled:
            continue
        backend = sqs_backends[self.account_id][self.region]
        messages = backend.receive_message(
            self.name,
            esm.batch_size,
            self.receive_message_wait_time_seconds,  # type: ignore[attr-defined]
            self.visibility_timeout,  # type: ignore[attr-defined]
        )

        from moto.awslambda.utils import get_backend

        result = get_backend(self.account_id, self.region).send_sqs_batch(
            arn, messages, self.queue_arn
        )
        if result:
            for m in messages:
                backend.delete_message(self.name, m.receipt_handle)  # type: ignore[arg-type]
        else:
            for m in messages:
                backend.change_message_visibility(
                    self.name,
                    m.receipt_handle,  # type: ignore[arg-type]
                    visibility_timeout=0,
                )


def _delete_message(self: Queue, receipt_handle: str) -> None:
    index = _index(self)
    if index is None:
        return _orig["Queue.delete_message"](self, receipt_handle)
    with self._messages_lock:
        if receipt_handle in self.deleted_messages:
            return  # already deleted: moto accepts it again
        message = index.handles.get(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid()
        self.pending_messages.discard(message)
        self.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type]
        index.remove(message)


def _wait_for_messages(self: Queue, timeout: int) -> None:
    index = _index(self)
    if index is None:
        return _orig["Queue.wait_for_messages"](self, timeout)
    with self._messages_lock:
        self._messages_lock.wait_for(index.has_ready, timeout=timeout)


def _retained(queue: Queue, message: Message) -> bool:
    # moto's is_message_valid_based_on_retention_period, without its two walks of the
    # queue (it reads MessageRetentionPeriod through get_queue_attributes).
    retain_until = queue.message_retention_period + message.sent_timestamp / 1000  # type: ignore
    return not retain_until <= unix_time()


def _receive_message(
    self: SQSBackend,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[Message]:
    queue = self.get_queue(queue_name)
    index = _index(queue)
    if index is None:
        return _orig["SQSBackend.receive_message"](
            self, queue_name, count, wait_seconds_timeout, visibility_timeout,
            message_attribute_names,
        )
    if message_attribute_names is None:
        message_attribute_names = []
    result: list[Message] = []
    previous_result_count = len(result)
    polling_end = unix_time() + wait_seconds_timeout
    redrive = queue.redrive_policy if queue.dead_letter_queue is not None else None

    while True:
        if result or (wait_seconds_timeout and unix_time() > polling_end):
            break
        messages_to_dlq: list[Message] = []
        with queue._messages_lock:
            index.drain()
            received = []
            while True:
                message = index.pop_ready()
                if message is None:
                    break
                if message in queue.pending_messages:
                    # Visible again while pending: the consumer timed out.
                    queue.pending_messages.remove(message)
                if redrive and message.approximate_receive_count >= redrive["maxReceiveCount"]:
                    messages_to_dlq.append(message)
                    continue
                queue.pending_messages.add(message)
                _mark_received(message, visibility_timeout=visibility_timeout)
                index.handles[message.receipt_handle] = message  # type: ignore[index]
                received.append(message)
                message_copy = deepcopy(message)
                _filter_message_attributes(message_copy, message_attribute_names)
                if not _retained(queue, message):
                    break
                result.append(message_copy)
                if len(result) >= count:
                    break
            for message in received:  # invisible now, or still visible (a timeout of 0)
                index.place(message)
            for message in messages_to_dlq:
                index.remove(message)
        for message in messages_to_dlq:
            queue.dead_letter_queue.add_message(message)  # type: ignore[union-attr]

        if previous_result_count == len(result):
            if wait_seconds_timeout == 0:
                break
            queue.wait_for_messages(1)
            continue
        previous_result_count = len(result)

    return result


def _change_message_visibility(
    self: SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
) -> None:
    queue = self.get_queue(queue_name)
    index = _index(queue)
    if index is None:
        return _orig["SQSBackend.change_message_visibility"](
            self, queue_name, receipt_handle, visibility_timeout
        )
    with queue._messages_lock:
        message = index.handles.get(receipt_handle)
        if message is None:
            raise ReceiptHandleIsInvalid
        visibility_timeout_msec = int(visibility_timeout) * 1000
        given_visibility_timeout = unix_time_millis() + visibility_timeout_msec
        if given_visibility_timeout - message.sent_timestamp > 43200 * 1000:  # type: ignore
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )
        message.change_visibility(visibility_timeout)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)
        index.place(message)


_installed = False


def install() -> None:
    """Checks moto, then patches its SQS classes (once). Queues created from then on,
    while `enabled` holds, are indexed; the others run moto's code unchanged."""
    global _installed
    if _installed:
        return
    check_moto()
    Queue.__init__ = _queue_init  # type: ignore[method-assign]
    Queue._messages = property(_get_messages_list, _set_messages_list)  # type: ignore[assignment]
    Queue.messages = property(_messages)  # type: ignore[assignment,method-assign]
    for attr, kind in (
        ("approximate_number_of_messages", READY),
        ("approximate_number_of_messages_delayed", DELAYED),
        ("approximate_number_of_messages_not_visible", INVISIBLE),
    ):
        setattr(Queue, attr, _count_property(f"Queue.{attr}", kind))
    Queue.add_message = _add_message  # type: ignore[method-assign]
    Queue.delete_message = _delete_message  # type: ignore[method-assign]
    Queue.wait_for_messages = _wait_for_messages  # type: ignore[method-assign]
    SQSBackend.receive_message = _receive_message  # type: ignore[method-assign]
    SQSBackend.change_message_visibility = _change_message_visibility  # type: ignore[method-assign]
    _installed = True
