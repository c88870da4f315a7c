"""`lucid.save` and `lucid.load`: state dicts in NumPy's `.npz` format, with no pickle.

A pickle can run arbitrary code when loaded; an `.npz` file holds only arrays. Each tensor is
stored as one array named by its place in the object ("fc.weight", "state/0/exp_avg"), so
`np.load(path)` reads the weights without Lucid. The nesting around them (dicts, lists, numbers:
what an optimizer's state dict has) is kept as JSON in one more array, "__lucid__".

The file is untrusted input to `load`: it parses the zip and each `.npy` header itself, checks
every size before it allocates or inflates anything, and reports whatever is wrong as a
LucidError naming the file. `save` writes a temporary file beside the target and renames it over
the target only once it is complete, so a failed save leaves the old file as it was.
"""
from __future__ import annotations

import contextlib
import json
import numbers
import os
import secrets
import stat
import struct
import zipfile
import zlib
from collections.abc import Callable
from typing import IO, Any

import numpy as np

from .errors import LucidError
from .tensor import Tensor

STRUCTURE = "__lucid__"

#: The most bytes `load` will inflate by default: 1 GiB, about 268 million float32 numbers, far more
#: than a model trained with NumPy on a CPU, yet a bound on what a small hostile file can cost.
#: `load(..., max_bytes=...)` raises it (None: no limit).
DEFAULT_MAX_BYTES = 1 << 30

#: How deeply dicts, lists and tuples may nest (a state dict needs about 4). Bounded so that
#: neither a cyclic object at save nor a hostile file at load can exhaust the stack.
MAX_DEPTH = 100

_ARRAY_KINDS = "biufc"  # bool, integers, floats, complex: what a Tensor can hold

# What parsing a malformed file raises from zipfile, zlib, json and NumPy's header reader.
_MALFORMED = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, KeyError, TypeError, struct.error,
              NotImplementedError, RuntimeError, OverflowError, OSError)


def save(obj: Any, f: str | os.PathLike | IO[bytes]) -> None:
    """Save a state dict (or any nesting of dicts, lists and tuples of Tensors, arrays, numbers,
    strings and None) to the path or binary file `f`, in `.npz` format.

    Saving to a path is atomic: the file appears complete or not at all, and if anything fails
    the file that was there before is left untouched."""
    arrays: dict[str, np.ndarray] = {}
    structure = _encode(obj, (), arrays, {}, 0)
    arrays[STRUCTURE] = np.array(json.dumps(structure))
    if not isinstance(f, (str, os.PathLike)):
        _write(arrays, f)
        return
    try:
        write_atomically(f, lambda file: _write(arrays, file))
    except OSError as error:
        raise LucidError(f"save: can't write {os.fspath(f)!r}: {error.strerror or error}") from error


def write_atomically(f: str | os.PathLike, write: Callable[[IO[bytes]], object]) -> None:
    """Call `write` on a new file beside the path `f`, then move it over `f`: the file appears
    complete or not at all, and if anything fails the file that was there before is left untouched
    (its permission bits too). Raises OSError."""
    path = os.path.realpath(f)  # through a symlink, as open() writes: replace the file, keep the link
    if os.path.exists(path) and not os.path.isfile(path):  # a device or a pipe is written, never replaced
        with open(path, "wb") as file:
            write(file)
        return
    folder, name = os.path.split(path)
    temporary = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never clobber a file of that name; mode 0o666 lets the umask decide, as open() does.
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with open(descriptor, "wb") as file:
            with contextlib.suppress(FileNotFoundError):  # an existing file keeps its permissions
                os.chmod(temporary, stat.S_IMODE(os.stat(path).st_mode))
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _sync_folder(folder)


def _write(arrays: dict[str, np.ndarray], file: IO[bytes]) -> None:
    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array, allow_pickle=False)


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); where folders can't be opened, there is nothing to do."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(descriptor)
    except OSError:
        pass
    finally:
        os.close(descriptor)


def _encode(obj: Any, path: tuple, arrays: dict[str, np.ndarray], places: dict[str, str], depth: int) -> Any:
    """A JSON description of `obj`; arrays go into `arrays` under their path. JSON objects are
    always containers or array references, so plain JSON values can stand for themselves.
    `places` remembers where in `obj` each array name came from, to report two that collide."""
    place = _place(path)
    if depth >= MAX_DEPTH and isinstance(obj, (dict, list, tuple)):
        raise LucidError(f"save: the object nests deeper than {MAX_DEPTH} levels at {place} (does it contain "
                         f"itself?)")
    if isinstance(obj, (Tensor, np.ndarray)):
        array = obj.data if isinstance(obj, Tensor) else obj
        if array.dtype.kind not in _ARRAY_KINDS:
            raise LucidError(f"save: {path or 'the object'} is an array of dtype {array.dtype}, which can't be "
                             f"saved without pickle")
        name = "/".join(str(key) for key in path) or "tensor"
        if name == STRUCTURE or name in places:
            other = places.get(name, f"Lucid's own {STRUCTURE!r}")
            raise LucidError(f"save: the keys at {other} and at {place} would both be stored as the array "
                             f"{name!r}; rename one of them")
        arrays[name], places[name] = array, place
        return {"tensor" if isinstance(obj, Tensor) else "array": name}
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise LucidError(f"save: dict keys must be str or int, got {key!r} at {place}")
            items.append([key, _encode(value, path + (key,), arrays, places, depth + 1)])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, path + (i,), arrays, places, depth + 1) for i, v in enumerate(obj)]}
    value = obj.item() if isinstance(obj, np.generic) else obj  # NumPy scalars that JSON can hold exactly
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise LucidError(f"save: can't save a {type(obj).__name__} at {place}; lucid.save stores "
                     f"Tensors, arrays, numbers, strings and None in dicts, lists and tuples (no pickle)")


def _place(path: tuple) -> str:
    """Where in the saved object a path leads, as Python would index it: `['fc'][0]`."""
    return "".join(f"[{key!r}]" for key in path) or "the top level"


def load(f: str | os.PathLike | IO[bytes], *, max_bytes: int | None = DEFAULT_MAX_BYTES) -> Any:
    """Load what `save` wrote; Tensors come back as Tensors (not requiring grad). A plain `.npz`
    written by NumPy loads as a dict of name -> Tensor.

    Nothing in the file is executed (no pickle), and at most `max_bytes` bytes are inflated
    (default 1 GiB; None for no limit): a larger file is refused before any is read. Anything
    malformed raises a LucidError naming the file and the problem."""
    label = repr(os.fspath(f)) if isinstance(f, (str, os.PathLike)) else repr(getattr(f, "name", f))
    if max_bytes is not None and (not isinstance(max_bytes, numbers.Integral) or isinstance(max_bytes, bool)
                                  or max_bytes <= 0):
        raise LucidError(f"lucid.load({label}): max_bytes must be a positive int (or None for no limit), "
                         f"got {max_bytes!r}")
    with open(f, "rb") if isinstance(f, (str, os.PathLike)) else contextlib.nullcontext(f) as file:
        try:
            arrays = _read_arrays(file, max_bytes)
            if STRUCTURE not in arrays:
                return {name: Tensor(array) for name, array in arrays.items()}
            structure = arrays.pop(STRUCTURE)
            if structure.dtype.kind != "U" or structure.ndim != 0:
                raise _Malformed(f"{STRUCTURE!r} must be a single string, got dtype {structure.dtype} "
                                 f"shape {structure.shape}")
            try:
                description = json.loads(str(structure))
            except (ValueError, RecursionError) as error:
                raise _Malformed(f"{STRUCTURE!r} is not valid JSON ({error})") from None
            return _decode(description, arrays, 0)
        except _Malformed as error:
            raise LucidError(f"lucid.load({label}): {error}") from None
        except _MALFORMED as error:
            raise LucidError(f"lucid.load({label}): not a valid .npz file: {type(error).__name__}: {error}") \
                from error


class _Malformed(Exception):
    """A problem found in the file, described; load adds the file's name."""


def _read_arrays(file: IO[bytes], max_bytes: int | None) -> dict[str, np.ndarray]:
    start = file.read(6)
    file.seek(-len(start), os.SEEK_CUR)
    if start == b"\x93NUMPY":
        raise _Malformed("this is a single .npy array, not an .npz archive; read it with np.load")
    if not zipfile.is_zipfile(file):
        raise _Malformed("not a zip archive (lucid.load reads the .npz files of lucid.save and np.savez)")
    with zipfile.ZipFile(file) as archive:
        members = archive.infolist()
        _check_directory(file, members)
        declared = sum(member.file_size for member in members)
        if max_bytes is not None and declared > max_bytes:
            raise _Malformed(f"its arrays would inflate to {declared} bytes in all, more than "
                             f"max_bytes={max_bytes}; if you trust the file, pass a larger max_bytes "
                             f"(or max_bytes=None)")
        arrays = {}
        for member in members:
            if not member.filename.endswith(".npy"):
                raise _Malformed(f"member {member.filename!r} is not a .npy array")
            if member.filename[:-4] in arrays:  # the later one would silently replace the earlier
                raise _Malformed(f"the archive holds two members named {member.filename!r}")
            with archive.open(member) as stream:  # yields at most member.file_size bytes, checked by CRC
                arrays[member.filename[:-4]] = _read_npy(stream, member)
        return arrays


def _check_directory(file: IO[bytes], members: list[zipfile.ZipInfo]) -> None:
    """Refuse a central directory that holds fewer (or more) entries than the end-of-central-directory
    record declares. zipfile does not check: a corrupted comment length makes it skip the entries
    after it, silently, and an archive that lost its last entries still looks like a valid .npz.
    (The directory's size needs no check of its own: zipfile reads exactly the declared bytes.)"""
    end = zipfile._EndRecData(file)  # type: ignore[attr-defined]  # the record zipfile itself just read
    declared = end[zipfile._ECD_ENTRIES_TOTAL]  # type: ignore[attr-defined]  # (Zip64 included)
    if len(members) != declared:
        raise _Malformed(f"its zip directory is corrupted: the end record declares {declared} entries, "
                         f"but the directory holds {len(members)}")


def _read_npy(stream: IO[bytes], member: zipfile.ZipInfo) -> np.ndarray:
    """One `.npy` array, read without pickle and without trusting its header: the dtype must be
    one a Tensor can hold and the data must be exactly what the zip declared for the member."""
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(stream)
    elif version == (2, 0):
        shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(stream)
    else:
        raise _Malformed(f"array {member.filename!r} has .npy format version {version}, which lucid.load "
                         f"does not read")
    if dtype.kind not in _ARRAY_KINDS and not (member.filename == STRUCTURE + ".npy" and dtype.kind == "U"):
        raise _Malformed(f"array {member.filename!r} has dtype {dtype}; lucid.load reads only numbers and "
                         f"bools (object arrays would need pickle, which it never runs)")
    if any(n < 0 for n in shape):
        raise _Malformed(f"array {member.filename!r} has a negative dimension in its shape {shape}")
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if stream.tell() + nbytes != member.file_size:
        raise _Malformed(f"array {member.filename!r} of shape {shape} and dtype {dtype} needs {nbytes} bytes, "
                         f"but the archive holds {member.file_size - stream.tell()} for it")
    array = np.empty(shape, dtype=dtype, order="F" if fortran_order else "C")  # bounded: nbytes <= file_size
    flat = array.reshape(-1, order="A").view(np.uint8)  # a view: both orders are contiguous
    filled = 0
    while filled < nbytes:
        chunk = stream.read(min(nbytes - filled, 1 << 24))
        if not chunk:
            raise _Malformed(f"array {member.filename!r} is truncated: {filled} of {nbytes} bytes")
        flat[filled:filled + len(chunk)] = np.frombuffer(chunk, np.uint8)
        filled += len(chunk)
    if stream.read(1):
        raise _Malformed(f"array {member.filename!r} has bytes after its data")
    return array if dtype.isnative else array.astype(dtype.newbyteorder("="))


def _decode(node: Any, arrays: dict[str, np.ndarray], depth: int) -> Any:
    if not isinstance(node, dict):
        if isinstance(node, list):
            raise _Malformed(f"{STRUCTURE!r} has a bare JSON list where a value was expected")
        return node
    if len(node) != 1:
        raise _Malformed(f"{STRUCTURE!r} has a node with keys {sorted(node)}; expected exactly one")
    (kind, value), = node.items()
    if kind in ("tensor", "array"):
        if not isinstance(value, str) or value not in arrays:
            raise _Malformed(f"{STRUCTURE!r} refers to an array {value!r} that the file does not have")
        return Tensor(arrays[value]) if kind == "tensor" else arrays[value]
    if depth >= MAX_DEPTH:
        raise _Malformed(f"{STRUCTURE!r} nests deeper than {MAX_DEPTH} levels")
    if kind in ("list", "tuple", "dict") and not isinstance(value, list):
        raise _Malformed(f"{STRUCTURE!r} has a {kind} whose contents are a {type(value).__name__}, not a list")
    if kind == "dict":
        if not all(isinstance(item, list) and len(item) == 2 and isinstance(item[0], (str, int)) for item in value):
            raise _Malformed(f"{STRUCTURE!r} has a dict whose items are not [key, value] pairs")
        return {key: _decode(v, arrays, depth + 1) for key, v in value}
    if kind in ("list", "tuple"):
        items = [_decode(v, arrays, depth + 1) for v in value]
        return items if kind == "list" else tuple(items)
    raise _Malformed(f"{STRUCTURE!r} has a node of unknown kind {kind!r}")
