"""Small helpers for walking large collections a piece at a time."""

from collections.abc import Iterable, Iterator
from itertools import islice
from typing import TypeVar

T = TypeVar("T")


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of at most ``size`` items, one in memory at a time (generators
    too). Python 3.12's ``itertools.batched``, which 3.11 lacks."""
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
