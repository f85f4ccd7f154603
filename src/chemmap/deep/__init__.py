"""Deep learning on spectra (PyTorch, the ``deep`` extra). The only room that imports torch.

Importing this package does not import torch; the modules inside do, and raise an error that
names ``pip install 'chemmap[deep]'`` when it is missing. One subpackage per model, each with
the same modules (``model``, ``losses``, ``training``, ``inference``, ``persist``,
``estimator``): :mod:`~chemmap.deep.autoencoder` (the spectral autoencoder) and
:mod:`~chemmap.deep.unet.model` (maps from per-sample references); ``_torch`` holds what both share
(device choice, seeding, threads). :mod:`~chemmap.deep.blind_spot`, the MNF autoencoder of
``chemmap denoise``, is trained and applied within one run and never saved: it has only
``model`` and ``denoiser``.
"""
