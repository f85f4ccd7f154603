"""Private helpers shared by every room: validation, optional imports, blockwise
NumPy/Dask dispatch, progress reporting, random states and atomic writes."""
