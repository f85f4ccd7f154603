"""Spatial blocks for honest validation of pixel classifiers: neighbouring pixels are
nearly copies of each other, so a random pixel split puts the neighbours of every test pixel
in the training set and overstates accuracy. Here whole square blocks go to one side."""

from __future__ import annotations

import numpy as np

from chemmap._shared.validation import check_int, check_number, check_random_state
from chemmap.core.exceptions import ShapeError

__all__ = ["block_ids", "block_split", "default_block_size"]


def default_block_size(image_shape) -> int:
    """About a 10 x 10 grid of blocks over the image (at least 4 pixels a side)."""
    return max(4, round(float(np.sqrt(image_shape[0] * image_shape[1])) / 10))


def block_ids(image_shape, block_size: int) -> np.ndarray:
    """Block number of every pixel (row-major blocks of ``block_size`` pixels a side)."""
    h, w = image_shape
    rows = np.arange(h) // block_size
    cols = np.arange(w) // block_size
    return rows[:, None] * (-(-w // block_size)) + cols[None, :]


def block_split(
    labels: np.ndarray,
    classes,
    *,
    train_fraction: float = 0.1,
    block_size: int | None = None,
    buffer: int = 0,
    random_state=0,
) -> tuple[np.ndarray, np.ndarray, dict]:
    """Training and test pixels chosen by whole spatial blocks.

    Blocks are taken one at a time for the class furthest below ``train_fraction`` of its
    pixels: the open block where that class has the largest share, ties broken in a seeded
    order; until ``train_fraction`` of all labelled pixels are taken and every class has
    some (so the share can end a little above ``train_fraction``). Every other labelled
    pixel is a test pixel, except those within ``buffer`` pixels of a training block.

    Parameters
    ----------
    labels : ndarray of int, shape (height, width)
    classes : sequence of int
        The values that are classes (others are unlabelled).
    train_fraction : float
        Share of the labelled pixels to train on, in (0, 1).
    block_size : int, optional
        Block side in pixels (default :func:`default_block_size`).
    buffer : int
        Test pixels this close to a training block (Chebyshev distance) are dropped.

    Returns
    -------
    train, test : ndarray of bool, shape (height, width)
    info : dict
        Block size, counts and the classes without any training pixel.
    """
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise ShapeError(f"block_split needs a 2-D label image; got shape {labels.shape}.")
    fraction = check_number(
        train_fraction,
        name="train_fraction",
        func="block_split",
        low=0,
        high=1,
        low_inclusive=False,
        high_inclusive=False,
    )
    size = (
        default_block_size(labels.shape)
        if block_size is None
        else check_int(block_size, name="block_size", func="block_split", low=1)
    )
    buffer = check_int(buffer, name="buffer", func="block_split", low=0)
    classes = np.unique(np.asarray(list(classes)))
    labelled = np.isin(labels, classes)
    if not labelled.any():
        raise ShapeError("block_split: no pixel carries one of the classes; check the label image and class values.")
    blocks = block_ids(labels.shape, size)
    n_blocks = int(blocks.max()) + 1
    index = np.searchsorted(classes, np.where(labelled, labels, classes[0]))
    counts = np.zeros((n_blocks, classes.size), dtype=np.int64)
    np.add.at(counts, (blocks[labelled], index[labelled]), 1)
    target = fraction * counts.sum(axis=0)
    rng = check_random_state(random_state)
    order = rng.permutation(n_blocks)
    taken = np.zeros(n_blocks, bool)
    have = np.zeros(classes.size)
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    rank = np.empty(n_blocks, dtype=np.int64)
    rank[order] = np.arange(n_blocks)
    while have.sum() < fraction * counts.sum() or np.any((have == 0) & (target > 0)):
        open_blocks = np.flatnonzero(~taken & (counts.sum(axis=1) > 0))
        if open_blocks.size == 0:
            break
        need = np.where(target > 0, have / np.maximum(target, 1e-12), np.inf)
        wanted = int(np.argmin(need))
        holding = open_blocks[counts[open_blocks, wanted] > 0]
        if holding.size == 0:
            holding = open_blocks
        # the block where the wanted class is the largest share (least overshoot for the
        # others), ties broken by the seeded order
        block = int(holding[np.lexsort((rank[holding], -shares[holding, wanted]))[0]])
        taken[block] = True
        have += counts[block]
    train = labelled & taken[blocks]
    near = taken[blocks]
    if buffer:
        from scipy.ndimage import maximum_filter

        near = maximum_filter(near, size=2 * buffer + 1, mode="constant")
    test = labelled & ~near
    info = {
        "block_size": size,
        "n_blocks": n_blocks,
        "n_train_blocks": int(taken.sum()),
        "buffer": buffer,
        "n_train_pixels": int(train.sum()),
        "n_test_pixels": int(test.sum()),
        "train_fraction": float(train.sum() / labelled.sum()),
        "classes_without_training": [int(c) for c, n in zip(classes, have, strict=True) if n == 0],
    }
    return train, test, info
