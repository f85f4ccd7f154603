"""The MNF autoencoder of ``chemmap denoise --method autoencoder``: a noise-whitened linear
encoder and decoder (MNF) with a blind-spot network between them."""

from chemmap.deep.blind_spot.denoiser import BlindSpotDenoiser, fit_blind_spot_denoiser

__all__ = ["BlindSpotDenoiser", "fit_blind_spot_denoiser"]
