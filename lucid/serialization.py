"""`lucid.save` and `lucid.load`: state dicts in NumPy's `.npz` format, with no pickle.

A pickle can run arbitrary code when loaded; an `.npz` file holds only arrays. Each tensor is
stored as one array named by its place in the object ("fc.weight", "state/0/exp_avg"), so
`np.load(path)` reads the weights without Lucid. The nesting around them (dicts, lists, numbers:
what an optimizer's state dict has) is kept as JSON in one more array, "__lucid__".
"""
from __future__ import annotations

import json
import os
import zipfile
from typing import IO, Any

import numpy as np

from .errors import LucidError
from .tensor import Tensor

STRUCTURE = "__lucid__"


def save(obj: Any, f: str | os.PathLike | IO[bytes]) -> None:
    """Save a state dict (or any nesting of dicts, lists and tuples of Tensors, arrays, numbers,
    strings and None) to the path or binary file `f`, in `.npz` format."""
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, "", arrays)
    arrays[STRUCTURE] = np.array(json.dumps(structure))
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def load(f: str | os.PathLike | IO[bytes]) -> Any:
    """Load what `save` wrote; Tensors come back as Tensors (not requiring grad). A plain `.npz`
    written by NumPy loads as a dict of name -> Tensor."""
    with np.load(f, allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    if STRUCTURE not in arrays:
        return {name: Tensor(array) for name, array in arrays.items()}
    return _decode(json.loads(str(arrays.pop(STRUCTURE))), arrays)


def _encode(obj: Any, path: str, arrays: dict[str, np.ndarray]) -> Any:
    """A JSON description of `obj`; arrays go into `arrays` under their path. JSON objects are
    always containers or array references, so plain JSON values can stand for themselves."""
    if isinstance(obj, (Tensor, np.ndarray)):
        array = obj.data if isinstance(obj, Tensor) else obj
        if array.dtype.kind not in "biufc":
            raise LucidError(f"save: {path or 'the object'} is an array of dtype {array.dtype}, which can't be "
                             f"saved without pickle")
        name = path or "tensor"
        arrays[name] = array
        return {"tensor" if isinstance(obj, Tensor) else "array": name}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise LucidError(f"save: dict keys must be str or int, got {key!r} at {path or 'the top level'}")
            items.append([key, _encode(value, f"{path}/{key}" if path else str(key), arrays)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, f"{path}/{i}" if path else str(i), arrays) for i, v in enumerate(obj)]}
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    raise LucidError(f"save: can't save a {type(obj).__name__} at {path or 'the top level'}; lucid.save stores "
                     f"Tensors, arrays, numbers, strings and None in dicts, lists and tuples (no pickle)")


def _decode(node: Any, arrays: dict[str, np.ndarray]) -> Any:
    if not isinstance(node, dict):
        return node
    (kind, value), = node.items()
    if kind == "tensor":
        return Tensor(arrays[value])
    if kind == "array":
        return arrays[value]
    if kind == "dict":
        return {key: _decode(v, arrays) for key, v in value}
    items = [_decode(v, arrays) for v in value]
    return items if kind == "list" else tuple(items)
