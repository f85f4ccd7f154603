"""What a run's result shows in Jupyter: a thumbnail per map, the graded metrics, the warnings."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
from PIL import Image

import chemmap
from chemmap.datasets import make_demo_cube


def test_a_run_shows_its_maps_and_graded_metrics(tmp_path):
    result = chemmap.run_cube(make_demo_cube(), {"clustering": {"k": 2}}, tmp_path / "out")
    html = result._repr_html_()
    captions = re.findall(r"<figcaption[^>]*>([^<]+)</figcaption>", html)
    assert captions[0] == "clusters"
    assert set(captions[1:]) == {n for n in result.maps.map_names if not n.startswith("cluster_probability_")}
    first = re.search(r'src="data:image/png;base64,([^"]+)"', html).group(1)
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(first))).convert("RGB"))
    assert image.shape[:2] == result.label_image.shape
    assert len({tuple(p) for p in image.reshape(-1, 3)}) == 2  # one colour per cluster
    grade = result.metrics["clustering"]["silhouette_grade"]
    assert re.search(rf"<td>silhouette[^<]*</td><td>[0-9.]+</td><td>{grade}</td>", html)
    assert str(tmp_path / "out") in html
