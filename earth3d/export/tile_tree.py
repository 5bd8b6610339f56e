"""Which store nodes become tiles with content, and where a splat tileset's tree starts.

The store's octree hangs from a fixed cube of side 2^24 m around the earth (`earth3d.store.keys`), so
above any region smaller than the planet it has a chain of single-child nodes, one per level, down to
the first cell that the region's data straddles. The LOD merge (`earth3d.store.merge`) gives each of
those nodes a handful of splats: merging a child of n splats at one voxel per cell leaves one splat
as wide as the region and nearly transparent. A viewer that walked that chain would fetch a tile per
level (14 for a 100 m drone survey) before it drew anything.

So a tileset does not show content that holds fewer than MIN_CONTENT_SPLATS splats, unless it is a
leaf (full detail is always shown): such a node becomes a content-less tile, whose geometric error is
at least the diagonal of its box (drawing nothing there loses everything below it). Its tree starts at
`top_node`, the deepest node of the root's single-child chain that has no content of its own, or
whose content is a copy of its child's (same error); explicit trees also collapse content-less
single-child chains inside the tree (`collapse`). Neither changes the store.
"""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_CONTENT_SPLATS = 32


@dataclass
class Node:
    """What the tileset needs of a store node: its error, splat count and existing children."""

    error: float
    count: int
    children: list = field(default_factory=list)


def has_content(nodes: dict[tuple, Node], key: tuple) -> bool:
    """Whether node `key` is shown as tile content: a leaf with splats, or an inner node with at least
    MIN_CONTENT_SPLATS of them.
    """
    node = nodes[key]
    return node.count > 0 and (not node.children or node.count >= MIN_CONTENT_SPLATS)


def collapse(nodes: dict[tuple, Node], key: tuple) -> tuple:
    """The deepest node of `key`'s single-child chain whose ancestors in the chain show nothing of their own:
    no content, or content with the same error as their child's (a copy).
    """
    while len(nodes[key].children) == 1:
        child = nodes[key].children[0]
        if has_content(nodes, key) and nodes[child].error != nodes[key].error:
            break
        key = child
    return key


def top_node(nodes: dict[tuple, Node], root: tuple) -> tuple:
    """Where the tile tree below store root `root` starts: the first node with more than one child or
    with content of its own (`collapse` of the root).
    """
    return collapse(nodes, root)


def subtree_keys(nodes: dict[tuple, Node], top: tuple) -> list[tuple]:
    """`top` and every node below it."""
    out, stack = [], [top]
    while stack:
        key = stack.pop()
        out.append(key)
        stack.extend(nodes[key].children)
    return out
