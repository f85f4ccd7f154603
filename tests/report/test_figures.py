"""Maps are drawn with as many pixels as their panel shows in the saved PNG, no more."""

import numpy as np
import pytest

from chemmap.viz.figures import (
    SAVE_DPI,
    new_figure,
    panel_pixels,
    plot_label_map,
    plot_map,
    reduce_image,
    save_figure,
)


def _panel(width=5.5, height=4.8, columns=1):
    fig = new_figure(width * columns, height)
    return fig, fig.subplots(1, columns, squeeze=False)[0]


@pytest.mark.parametrize(("side", "factor"), [(300, 1), (1024, 2), (4096, 9)])
def test_a_map_larger_than_its_panel_is_averaged_down_to_at_least_the_panels_pixels(side, factor):
    _, (ax,) = _panel()
    width, height = panel_pixels(ax)
    assert 0.6 * 5.5 * SAVE_DPI < width < 5.5 * SAVE_DPI and 0.6 * 4.8 * SAVE_DPI < height < 4.8 * SAVE_DPI
    shown = min(width, height)  # a square map fills the shorter side
    image = np.arange(side * side, dtype=np.float32).reshape(side, side)
    drawn = plot_map(ax, image, title="t", colorbar_label="c").get_array()
    assert drawn.shape == (-(-side // factor),) * 2
    assert drawn.shape[0] >= min(side, shown)  # never fewer pixels than the panel shows
    assert ax.get_title().endswith(f"(drawn at 1/{factor} resolution)") == (factor > 1)
    # the axes keep full-resolution pixel coordinates
    assert ax.get_xlim() == (-0.5, side - 0.5)


def test_narrower_panels_of_a_grid_draw_fewer_pixels():
    _, (one,) = _panel()
    _, three = _panel(width=5.5 / 3, columns=3)
    assert panel_pixels(three[0])[0] < panel_pixels(one)[0] / 2
    drawn = plot_map(three[0], np.ones((1024, 1024)), title="t", colorbar_label="c").get_array()
    assert panel_pixels(three[0])[0] <= drawn.shape[1] < 2 * panel_pixels(three[0])[0]


def test_a_label_map_is_subsampled_never_blended():
    _, (ax,) = _panel()
    labels = (np.add.outer(np.arange(1024), np.arange(1024)) // 100 % 3).astype(int)
    labels[:10] = -1
    plot_label_map(ax, labels, ["a", "b", "c"], title="t")
    drawn = ax.images[0].get_array()
    assert drawn.shape == (512, 512)
    assert set(np.unique(drawn.compressed())) <= {0, 1, 2} and drawn.mask[:5].all()


def test_reduce_image_averages_blocks_ignoring_nan():
    image = np.array([[1, 3, 5, 7], [1, np.nan, 5, 7], [2, 2, np.nan, np.nan]], dtype=np.float32)
    out = reduce_image(image, 2)
    np.testing.assert_allclose(out, [[5 / 3, 6], [2, np.nan]])


def test_a_long_note_under_a_map_stays_inside_the_figure(tmp_path):
    fig, (ax,) = _panel()
    note = "hatched: 87276 pixels where only the 449.412 band stands 10 noise sigmas up:\nratio above the scale"
    plot_map(ax, np.ones((50, 50)), title="t", colorbar_label="c", note=note)
    save_figure(fig, tmp_path / "m.png")  # lays the figure out
    label = ax.xaxis.label.get_window_extent()
    assert 0 <= label.x0 and label.x1 <= fig.bbox.x1
    assert len(ax.get_xlabel().splitlines()) > 3  # the first line of the note was wrapped


@pytest.mark.parametrize("shape", [(75, 1), (1, 40), (1, 1)])
def test_lower_bound_pixels_of_a_map_one_pixel_wide_are_hatched(tmp_path, shape):
    # a spectral library read as a 75 x 1 image: its ratio map's bound pixels had crashed the contour
    fig, (ax,) = _panel()
    bound = np.zeros(shape, bool)
    bound.flat[::2] = True
    plot_map(ax, np.ones(shape), title="t", colorbar_label="c", bound=bound)
    save_figure(fig, tmp_path / "m.png")
    (hatched,) = [c for c in ax.collections if getattr(c, "hatches", None) == ["///"]]
    assert any(len(path.vertices) for path in hatched.get_paths())  # the hatching covers something
