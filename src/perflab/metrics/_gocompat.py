"""Small pieces of Go's standard library that PromQL's answers depend on, done as Go does.

``topk``'s ties, ``sort``'s NaN placement and ``count_values``' label text follow from Go's
``container/heap``, its insertion sort (what ``sort.Sort`` uses for up to 12 elements) and
``strconv.FormatFloat(v, 'f', -1, 64)``; reproducing them is what makes perflab's answers the
same as Prometheus's, order included.
"""

from __future__ import annotations

from collections.abc import Callable, MutableSequence
from typing import TypeVar

T = TypeVar("T")

Less = Callable[[T, T], bool]


# -- container/heap ------------------------------------------------------------------------------

def heap_push(h: MutableSequence[T], item: T, less: Less[T]) -> None:
    h.append(item)
    _up(h, len(h) - 1, less)


def heap_pop(h: MutableSequence[T], less: Less[T]) -> T:
    n = len(h) - 1
    h[0], h[n] = h[n], h[0]
    _down(h, 0, n, less)
    return h.pop()


def _up(h: MutableSequence[T], j: int, less: Less[T]) -> None:
    while True:
        i = (j - 1) // 2  # parent
        if i == j or j <= 0 or not less(h[j], h[i]):
            break
        h[i], h[j] = h[j], h[i]
        j = i


def _down(h: MutableSequence[T], i0: int, n: int, less: Less[T]) -> bool:
    i = i0
    while True:
        j1 = 2 * i + 1
        if j1 >= n or j1 < 0:
            break
        j = j1
        j2 = j1 + 1
        if j2 < n and less(h[j2], h[j1]):
            j = j2
        if not less(h[j], h[i]):
            break
        h[i], h[j] = h[j], h[i]
        i = j
    return i > i0


# -- sort.Sort ---------------------------------------------------------------------------------

_MAX_INSERTION = 12


def go_sort(items: list[T], less: Less[T]) -> None:
    """Sort in place as Go's ``sort.Sort`` does: insertion sort up to 12 elements (stable, and
    exact with Prometheus's NaN-aware orders); beyond that an ordinary stable sort."""
    if len(items) <= _MAX_INSERTION:
        for i in range(1, len(items)):
            j = i
            while j > 0 and less(items[j], items[j - 1]):
                items[j], items[j - 1] = items[j - 1], items[j]
                j -= 1
        return
    import functools  # noqa: PLC0415

    def cmp(a: T, b: T) -> int:
        if less(a, b):
            return -1
        if less(b, a):
            return 1
        return 0

    items.sort(key=functools.cmp_to_key(cmp))


# -- strconv -------------------------------------------------------------------------------------

def kahan_inc(inc: float, total: float, c: float) -> tuple[float, float]:
    """One step of Prometheus's Kahan-Neumaier summation (``kahanSumInc``)."""
    t = total + inc
    if abs(total) >= abs(inc):
        c += (total - t) + inc
    else:
        c += (inc - t) + total
    return t, c
