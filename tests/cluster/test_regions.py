"""Speckle atlas: the brass speckles of a synthetic MA-XRF scan are found at their true
centroids, with their mean spectra; the largest-region curve behaves."""

from __future__ import annotations

import numpy as np
import pytest

from chemmap.cluster import largest_region_curve, speckle_atlas

pytest.importorskip("xraydb", reason="the synthetic XRF scan needs the 'xrf' extra (xraydb)")

from chemmap.datasets import make_xrf_cube
from chemmap.maps import find_peaks, peak_maps, summary_spectra


@pytest.mark.parametrize("seed", [0, 2])
def test_every_speckle_is_found_at_its_centroid_with_its_spectrum(seed):
    scan = make_xrf_cube(random_state=seed)
    peaks = find_peaks(scan.cube.axis.values, summary_spectra(scan.cube).max)
    maps = peak_maps(scan.cube, peaks)
    positions = np.array([p.position for p in peaks])
    for element, energy in (("Cu", 8.04), ("Zn", 8.63)):
        j = int(np.argmin(np.abs(positions - energy)))
        atlas = speckle_atlas(maps.areas.data[..., j], max_area=25, cube=scan.cube)
        assert atlas.areas.max() <= 25 and np.all(np.diff(atlas.areas) <= 0)  # labelled by area
        for truth in scan.speckle_centroids:
            distance = np.sqrt(np.sum((atlas.centroids - truth) ** 2, axis=1))
            k = int(np.argmin(distance))
            assert distance[k] <= 1.0, f"{element} speckle at {truth} not found"
            mask = atlas.masks()[k]
            rows, cols = np.mgrid[0 : mask.shape[0], 0 : mask.shape[1]]
            disc = (rows - truth[0]) ** 2 + (cols - truth[1]) ** 2 <= 1.6**2
            assert mask[disc].mean() >= 8 / 9  # the region covers the speckle
            # its mean spectrum is the pixels' mean, and shows the element's line
            np.testing.assert_allclose(atlas.mean_spectra[k], np.asarray(scan.cube.data)[mask].mean(axis=0))
        assert atlas.to_dict()["regions"][0]["area"] == int(atlas.areas[0])


def test_largest_region_curve_shrinks_and_uses_the_connectivity():
    image = np.zeros((9, 9))
    image[2, 2] = image[3, 3] = 5.0  # diagonal neighbours: one region with 8-connectivity
    image[6:9, 6:9] = 2.0
    _, areas = largest_region_curve(image, connectivity=2)
    assert np.all(np.diff(areas) <= 0) and areas[0] == 81
    assert largest_region_curve(image, connectivity=2)[1][-1] == 2
    assert largest_region_curve(image, connectivity=1)[1][-1] == 1
    atlas = speckle_atlas(image, max_area=4, background=False, threshold=1.0)
    assert list(atlas.areas) == [9, 2]


def test_corners_of_a_layer_are_not_speckles_but_isolated_spots_are():
    rng = np.random.default_rng(0)
    image = rng.normal(0.0, 1.0, (80, 80))
    image[10:50, 10:50] += 40.0  # a layer with four sharp corners
    image[30:33, 25:28] += 15.0  # a spot on the layer, standing out of it
    spots = [(65, 20), (20, 65), (70, 70)]
    for r, c in spots:
        image[r - 1 : r + 2, c - 1 : c + 2] += 30.0
    plain = speckle_atlas(image, max_area=25, isolated=False)
    atlas = speckle_atlas(image, max_area=25)
    found = {tuple(np.round(c).astype(int)) for c in atlas.centroids}
    assert set(spots) <= found
    corners = [(10, 10), (10, 49), (49, 10), (49, 49)]

    def near_corner(centroids):
        return any(np.min(np.hypot(*(np.asarray(centroids) - c).T)) <= 4 for c in corners)

    assert near_corner(plain.centroids)  # the top-hat alone keeps the layer's corners
    assert not near_corner(atlas.centroids)
    assert len(atlas.areas) == len(spots) + 1 and (31, 26) in found
