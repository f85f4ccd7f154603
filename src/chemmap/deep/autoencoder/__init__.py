"""The spectral autoencoder. Importing this package does not import torch (``settings`` is read
by the workflow without the ``deep`` extra); the modules inside do.

- ``model``: the 1-D convolutional :class:`~chemmap.deep.autoencoder.model.SpectralAutoencoder`;
- ``losses``: MSE + spectral angle + first-difference loss;
- ``settings``: the training parameters, declared once;
- ``training``: :func:`~chemmap.deep.autoencoder.training.train_autoencoder` (spatial-block validation);
- ``inference``: :func:`~chemmap.deep.autoencoder.inference.autoencode` (denoised cube, latent image);
- ``persist``: model folders (tensors-only weights + JSON);
- ``estimator``: :class:`~chemmap.deep.autoencoder.estimator.SpectralAutoencoderMapper` (scikit-learn style).
"""
