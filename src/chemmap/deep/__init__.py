"""Deep learning on spectra (PyTorch, the ``deep`` extra). The only room that imports torch.

Importing this package does not import torch; the modules inside do, and raise an error that
names ``pip install 'chemmap[deep]'`` when it is missing.

- ``model``: the 1-D convolutional :class:`~chemmap.deep.model.SpectralAutoencoder`;
- ``losses``: MSE + spectral angle + first-difference loss;
- ``training``: :func:`~chemmap.deep.training.train_autoencoder` (spatial-block validation);
- ``inference``: :func:`~chemmap.deep.inference.autoencode` (denoised cube, latent image);
- ``persist``: model folders (tensors-only weights + JSON);
- ``estimator``: :class:`~chemmap.deep.estimator.SpectralAutoencoderMapper` (scikit-learn style).
"""
