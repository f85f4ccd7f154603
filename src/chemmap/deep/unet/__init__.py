"""The U-Net that learns a map of one quantity from per-sample mean references. Importing this
package does not import torch; the modules inside do.

- ``model``: :class:`~chemmap.deep.unet.model.SpectralUNet`;
- ``losses``: the map losses (mean to reference, smoothness, physical range);
- ``training``: :func:`~chemmap.deep.unet.training.train_unet` and its presets (``PAPER``, ``IMPROVED``);
- ``inference``: tiled prediction of whole maps;
- ``persist``: model folders (tensors-only weights + JSON);
- ``estimator``: :class:`~chemmap.deep.unet.estimator.UNetMapper` (scikit-learn style).
"""
