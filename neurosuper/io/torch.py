"""PyTorch models → ResponseSet, through forward hooks (optional dependency: ``pip install neurosuper[torch]``).

Hooks on the named modules collect each batch's outputs (spatially reduced on the fly for convolutional
layers, so only ``stimulus × channel`` is kept), the model runs in eval mode under ``torch.no_grad``, and the
hooks are always removed — also when the model raises. With ``store="acts.zarr"`` each batch is appended to a
zarr store in the ResponseSet layout, so activation sets larger than memory are never held.
"""

from __future__ import annotations

import difflib
import os
import types
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr

from .._progress import progress_bar
from ..errors import FormatError, NeurosuperError
from .activations import from_activations, reduce_spatial

if TYPE_CHECKING:
    from ..format import IdsLike

__all__ = ["from_torch"]


def _torch() -> types.ModuleType:
    try:
        import torch
    except ImportError as err:  # pragma: no cover - exercised only without torch
        raise NeurosuperError(
            "from_torch needs PyTorch, which is not installed. Fix: pip install 'neurosuper[torch]' "
            "(on a CPU-only machine install the CPU wheel of torch first)."
        ) from err
    return torch


def _resolve_layers(model: Any, layers: str | Sequence[str]) -> dict[str, Any]:
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise FormatError(
            "layers: found an empty list; expected at least one module name. "
            "Fix: pass layers=[...] with names from model.named_modules()."
        )
    modules = dict(model.named_modules())
    valid = [n for n in modules if n]
    unknown = [n for n in names if n not in modules or not n]
    if unknown:
        close = difflib.get_close_matches(unknown[0], valid, n=len(valid), cutoff=0.0)
        raise FormatError(
            f"layers: found unknown module name(s) {unknown}; expected names from "
            f"model.named_modules(), closest first: {close[:20]}"
            f"{' ...' if len(close) > 20 else ''}. Fix: pass one of these names."
        )
    if len(set(names)) != len(names):
        raise FormatError(f"layers: found repeated names {names}; expected each module once. Fix: remove repeats.")
    return {n: modules[n] for n in names}


def _first_tensor(obj: Any, torch: types.ModuleType) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj
    if isinstance(obj, list | tuple) and obj:
        return _first_tensor(obj[0], torch)
    if isinstance(obj, dict) and obj:
        return _first_tensor(next(iter(obj.values())), torch)
    raise FormatError(
        f"inputs: found a batch of type {type(obj).__name__}; expected a tensor (or a tuple "
        "whose first element is one). Fix: yield input tensors from the loader."
    )


def _batches(inputs: Any, batch_size: int, torch: types.ModuleType) -> tuple[Iterator[Any], int | None]:
    """Iterate input batches (tensors) and tell how many samples there are, when known."""
    if batch_size < 1:
        raise FormatError(f"batch_size: found {batch_size}; expected a positive integer. Fix: batch_size=256.")
    if isinstance(inputs, np.ndarray):
        inputs = torch.from_numpy(np.ascontiguousarray(inputs))
    if isinstance(inputs, torch.Tensor):
        n = inputs.shape[0] if inputs.ndim else 0
        return (inputs[i : i + batch_size] for i in range(0, n, batch_size)), n
    data = torch.utils.data
    if isinstance(inputs, data.Dataset) and not isinstance(inputs, data.IterableDataset):
        loader = data.DataLoader(inputs, batch_size=batch_size, shuffle=False)
        return (_first_tensor(b, torch) for b in loader), len(inputs)
    n = None
    if isinstance(inputs, data.DataLoader):
        try:
            n = len(inputs.dataset)
        except TypeError:
            n = None
    if isinstance(inputs, Iterable):
        return (_first_tensor(b, torch) for b in inputs), n
    raise FormatError(
        f"inputs: found {type(inputs).__name__}; expected a tensor, numpy array, Dataset, DataLoader "
        "or an iterable of batches."
    )


class _Collector:
    """Forward hooks that keep each named module's output of the current batch, spatially reduced."""

    def __init__(self, modules: dict[str, Any], spatial: str, torch: types.ModuleType) -> None:
        self.spatial = spatial
        self.batch: dict[str, np.ndarray] = {}
        self.torch = torch
        self.handles = [m.register_forward_hook(self._hook(name)) for name, m in modules.items()]

    def _hook(self, name: str) -> Callable[[Any, Any, Any], None]:
        def hook(module: Any, args: Any, output: Any) -> None:
            out = _first_tensor(output, self.torch).detach()
            if out.ndim == 4 and self.spatial != "flatten":
                out = reduce_spatial(out, self.spatial)
            self.batch[name] = out.to("cpu", self.torch.float32).numpy()

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()
        self.handles = []


def _image_stimuli(x: np.ndarray) -> np.ndarray | None:
    """Input batch → (stimulus, y, x[, channel]) images when it is images; else None."""
    if x.ndim == 4 and x.shape[1] in (1, 3, 4):
        x = np.moveaxis(x, 1, -1)
        return x[..., 0] if x.shape[-1] == 1 else x
    return x if x.ndim == 3 else None


def from_torch(
    model: Any,
    inputs: Any,
    *,
    layers: str | Sequence[str],
    batch_size: int = 256,
    device: str = "cpu",
    spatial: str = "mean",
    store: str | os.PathLike | None = None,
    stimulus: IdsLike | None = None,
    keep_stimuli: bool = False,
    label: Sequence[Any] | None = None,
    progress: bool = True,
) -> xr.Dataset:
    """Activations of the named layers of a PyTorch model as one ResponseSet (``system="network"``).

    Parameters
    ----------
    model
        A ``torch.nn.Module``; run in eval mode under ``no_grad`` (its training flag is restored after).
    inputs
        A tensor or numpy array (first axis = stimulus), a ``Dataset``, a ``DataLoader`` or an iterable of
        batches (a tuple batch contributes its first element).
    layers
        Module names as in ``model.named_modules()``; unknown names raise, listing the valid ones.
    batch_size, device
        Batching of tensors/arrays/Datasets, and the device the inputs are moved to.
    spatial
        Reduction of convolutional outputs (stimulus, channel, y, x): ``"mean"``, ``"center"``, ``"max"`` or
        ``"flatten"`` — as :func:`neurosuper.from_activations`.
    store
        A ``.zarr`` path: batches are streamed there and the returned set is dask-backed on it (atomic: written
        to a temporary directory renamed at the end; an existing store is refused).
    stimulus
        Stimulus ids (default ``0..n-1``).
    keep_stimuli
        Keep image inputs as the ``stimuli`` variable (stimulus, y, x[, channel]).
    label
        One label per input (class, category), stored as the ``label`` coord along ``stimulus`` (with ``store=``,
        on the returned set only: save it again to keep the labels in the file).
    progress
        Show a progress bar over batches.

    Returns
    -------
    xarray.Dataset
        ``responses(stimulus, unit)`` with a ``layer`` coord on ``unit`` (ids ``"layer/index"``).
    """
    torch = _torch()
    if spatial not in ("mean", "center", "max", "flatten"):
        raise FormatError(f"spatial: found {spatial!r}; expected 'mean', 'center', 'max' or 'flatten'.")
    modules = _resolve_layers(model, layers)
    batches, n_total = _batches(inputs, batch_size, torch)
    if store is not None:
        store = Path(store)
        if store.suffix != ".zarr":
            raise FormatError(f"store: found {str(store)!r}; expected a path ending in .zarr.")
        if store.exists():
            raise FormatError(f"store: found an existing {str(store)!r}; expected a new path. Fix: remove it first.")

    model_name = type(model).__name__
    sink = _ZarrSink(store, spatial, model_name) if store is not None else _MemorySink(spatial, model_name)
    ids_all = None if stimulus is None else np.asarray(stimulus)
    if ids_all is not None and ids_all.dtype.kind == "O":
        ids_all = ids_all.astype(str)
    if ids_all is not None and n_total is not None and len(ids_all) != n_total:
        raise FormatError(
            f"stimulus: found {len(ids_all)} ids for {n_total} inputs; expected one id per input. "
            "Fix: pass as many ids as inputs."
        )
    was_training = model.training
    collector = _Collector(modules, spatial, torch)
    nonfinite = dict.fromkeys(modules, 0)
    offset = 0
    try:
        model.eval()
        with torch.no_grad(), progress_bar(total=n_total, unit="stim", progress=progress, desc="from_torch") as bar:
            for batch in batches:
                collector.batch = {}
                model(batch.to(device))
                missing = [n for n in modules if n not in collector.batch]
                if missing:
                    raise FormatError(
                        f"layers: modules {missing} did not run in the forward pass; expected every "
                        "requested module to produce an output. Fix: choose modules on the path."
                    )
                for name, arr in collector.batch.items():
                    nonfinite[name] += int(arr.size - np.count_nonzero(np.isfinite(arr)))
                n = next(iter(collector.batch.values())).shape[0]
                if ids_all is None:
                    ids = np.arange(offset, offset + n)
                elif offset + n > len(ids_all):
                    raise FormatError(
                        f"stimulus: found {len(ids_all)} ids for more inputs; expected one id per "
                        "input. Fix: pass as many ids as inputs."
                    )
                else:
                    ids = ids_all[offset : offset + n]
                images = _image_stimuli(batch.detach().cpu().numpy()) if keep_stimuli else None
                if not any(nonfinite.values()):  # keep counting to the end, but store nothing more
                    sink.add(collector.batch, images, ids)
                offset += n
                bar.update(n)
        if offset < 2:
            raise FormatError(f"inputs: found {offset} samples; expected at least 2 stimuli. Fix: pass more inputs.")
        if ids_all is not None and len(ids_all) != offset:
            raise FormatError(f"stimulus: found {len(ids_all)} ids for {offset} inputs; expected one id per input.")
        bad = {k: v for k, v in nonfinite.items() if v}
        if bad:
            raise FormatError(
                f"activations: found non-finite values (NaN or inf) per layer {bad}; expected "
                "finite activations. Fix: check the model and inputs (e.g. normalisation)."
            )
        ds = sink.finish()
        if label is not None:
            if len(label) != offset:
                raise FormatError(
                    f"label: found {len(label)} labels for {offset} inputs; expected one label per "
                    "input. Fix: pass as many labels as inputs (e.g. the dataset's targets)."
                )
            ds = ds.assign_coords(label=("stimulus", np.asarray(label)))
        return ds
    except BaseException:
        sink.abort()
        raise
    finally:
        collector.remove()
        model.train(was_training)


class _MemorySink:
    """Keep every batch in memory; build the set with :func:`from_activations` at the end."""

    def __init__(self, spatial: str, model: str) -> None:
        self.spatial, self.model = spatial, model
        self.parts: dict[str, list[np.ndarray]] = {}
        self.images: list[np.ndarray] = []
        self.ids: list[np.ndarray] = []

    def add(self, batch: dict[str, np.ndarray], images: np.ndarray | None, ids: np.ndarray) -> None:
        for name, arr in batch.items():
            self.parts.setdefault(name, []).append(arr)
        if images is not None:
            self.images.append(images)
        self.ids.append(ids)

    def abort(self) -> None:
        self.parts.clear()

    def finish(self) -> xr.Dataset:
        acts = {name: np.concatenate(parts) for name, parts in self.parts.items()}
        stimuli = np.concatenate(self.images) if self.images else None
        return from_activations(
            acts, stimulus=np.concatenate(self.ids), spatial=self.spatial, stimuli=stimuli, model=self.model
        )


class _ZarrSink:
    """Append each batch, already in the ResponseSet layout, to a temporary zarr store; rename it at the end.

    The store goes through :func:`neurosuper._atomic.atomic_path` (hidden temporary name in the target's
    folder, fsync, an exclusive rename: a store that appeared meanwhile is not replaced). Every chunk is
    written (``write_empty_chunks=True``) and the store is marked complete, so ``load`` counts its chunk files;
    every batch was checked for non-finite values, so the store also records the values' fingerprint.
    """

    def __init__(self, store: Path, spatial: str, model: str) -> None:
        from contextlib import ExitStack

        from .._atomic import atomic_path

        self.store = store.absolute()
        self._stack = ExitStack()
        self.tmp = self._stack.enter_context(atomic_path(self.store, overwrite=False))
        self.spatial, self.model = spatial, model
        self.unit_coords: dict[str, xr.Variable] | None = None
        self.attrs: dict[str, Any] = {}
        self.started = False
        self.bits, self.count = 0, 0
        self.dtype: np.dtype | None = None

    def _unit_coords(self, batch: dict[str, np.ndarray], flat: np.ndarray) -> dict[str, xr.Variable]:
        # unit ids and coords exactly as from_activations makes them, from the batch's first two rows
        template = from_activations({k: v[:2] for k, v in batch.items()}, spatial=self.spatial, model=self.model)
        if not np.array_equal(template["responses"].values, flat[:2]):  # pragma: no cover - layout guard
            raise NeurosuperError("internal error: streamed unit order differs from from_activations'")
        self.attrs = template.attrs
        return {str(k): c.variable for k, c in template.coords.items() if c.dims == ("unit",)}

    def add(self, batch: dict[str, np.ndarray], images: np.ndarray | None, ids: np.ndarray) -> None:
        from ..storage import bit_sum, encode_for_write, storage_attrs

        n = next(iter(batch.values())).shape[0]
        flat = np.concatenate([v.reshape(n, -1) for v in batch.values()], axis=1)
        if self.unit_coords is None:
            self.unit_coords = self._unit_coords(batch, flat)
        part = xr.Dataset({"responses": (("stimulus", "unit"), flat)}, coords={**self.unit_coords, "stimulus": ids})
        if images is not None:
            part["stimuli"] = (("stimulus", *_STIM_DIMS[images.ndim]), images)
        part.attrs = self.attrs  # every append rewrites the group's attrs
        out = encode_for_write(part, "zarr")
        out.attrs.update(storage_attrs("zarr", kind="set"))
        if not self.started:
            out.to_zarr(
                self.tmp,
                mode="w-",
                zarr_format=2,
                consolidated=True,
                write_empty_chunks=True,
                encoding={"responses": {"chunks": (n, flat.shape[1])}},
            )
            self.started = True
        else:
            out.to_zarr(self.tmp, append_dim="stimulus", zarr_format=2, consolidated=True, write_empty_chunks=True)
        self.bits += bit_sum(flat)  # the sink refuses non-finite values, so these values are checked
        self.count += flat.size
        self.dtype = flat.dtype

    def abort(self) -> None:
        import sys

        self._stack.__exit__(*sys.exc_info())  # removes the temporary store

    def finish(self) -> xr.Dataset:
        from ..storage import fingerprint, load, record_values_checked

        if self.started:
            assert self.dtype is not None  # set by the add() that started the store
            record_values_checked(self.tmp, "zarr", fingerprint(self.dtype, self.count, self.bits))
        self._stack.close()  # flush, then the exclusive rename onto the store
        return load(self.store, lazy=True)


_STIM_DIMS = {3: ("y", "x"), 4: ("y", "x", "channel")}
