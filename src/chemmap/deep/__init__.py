"""Deep learning on spectra (PyTorch, the ``deep`` extra). The only room that imports torch.

Importing this package does not import torch; the modules inside do, and raise an error that
names ``pip install 'chemmap[deep]'`` when it is missing.
"""
