"""Push and pop of a binary min-heap of tuples kept in a list (numba): the priority floods of
basins.py and the least-cost road paths of roads.py.
"""

from __future__ import annotations

from numba import njit


@njit(cache=True)
def heapq_push(heap, item):
    """Push onto a binary min-heap kept in a list."""
    heap.append(item)
    k = len(heap) - 1
    while k > 0:
        p = (k - 1) // 2
        if heap[p] <= heap[k]:
            break
        heap[p], heap[k] = heap[k], heap[p]
        k = p


@njit(cache=True)
def heapq_pop(heap):
    """Pop the smallest item of a binary min-heap kept in a list."""
    top = heap[0]
    last = heap.pop()
    if len(heap) > 0:
        heap[0] = last
        k = 0
        size = len(heap)
        while True:
            c1, c2, s = 2 * k + 1, 2 * k + 2, k
            if c1 < size and heap[c1] < heap[s]:
                s = c1
            if c2 < size and heap[c2] < heap[s]:
                s = c2
            if s == k:
                break
            heap[s], heap[k] = heap[k], heap[s]
            k = s
    return top
