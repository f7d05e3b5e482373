"""Everything that turns recordings and networks into ResponseSets (data flows one way: io → analyses).

- :mod:`neurosuper.io.activations` — arrays and mappings of layers (:func:`from_activations`), scikit-learn
  MLPs (:func:`from_sklearn`), and the per-layer helpers every network adapter shares
  (:func:`reduce_spatial`, :func:`layer_unit_coords`, :func:`layer_units`);
- :mod:`neurosuper.io.torch` — PyTorch models through forward hooks (``from_torch``; torch optional);
- :mod:`neurosuper.io.files` — saved activations, ``.npy``/``.npz``/HDF5 (``load_activations``);
- :mod:`neurosuper.io.nwb` — NWB recordings (``load_nwb``, ``save_nwb``).

Heavy libraries (scikit-learn, torch, h5py, pynwb) are imported inside the calls, so importing this package
is cheap.
"""

from .activations import from_activations, from_sklearn, layer_unit_coords, layer_units, reduce_spatial

__all__ = ["from_activations", "from_sklearn", "layer_units", "reduce_spatial", "layer_unit_coords"]
