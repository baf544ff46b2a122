"""How the domain tells the rest of the portal that events were committed.

Services call `events_written()` inside their transaction; after the commit every registered
listener gets the new events' sequence numbers. The webhooks app registers its outbox kick
here when it starts, so the domain never imports it and the flow stays explicit.
"""

from collections.abc import Callable, Sequence

from django.db import transaction

Listener = Callable[[Sequence[int]], None]
_listeners: list[Listener] = []


def on_events_committed(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def events_written(event_seqs: Sequence[int]) -> None:
    if not event_seqs or not _listeners:
        return
    seqs = list(event_seqs)

    def notify() -> None:
        for listener in list(_listeners):
            listener(seqs)

    transaction.on_commit(notify)
