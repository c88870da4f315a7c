"""lucid.save and lucid.load on hostile and unlucky files: nothing lost, nothing executed, nothing exploded."""
import io
import json
import os
import stat
import struct
import tracemalloc
import zipfile

import numpy as np
import pytest

import lucid
from lucid import serialization


def state():
    return {"weight": lucid.ones(2, 3), "bias": lucid.zeros(3), "step": 7}


def write_zip(path, members, compression=zipfile.ZIP_STORED):
    """An .npz built by hand: name -> array (written as .npy, pickle allowed) or raw bytes."""
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, value in members.items():
            if isinstance(value, bytes):
                archive.writestr(name, value)
            else:
                with archive.open(name, "w") as member:
                    np.lib.format.write_array(member, value, allow_pickle=True)
    return path


def structure(description):
    return np.array(json.dumps(description))


def declare_size(path, size):
    """Overwrite the uncompressed size that the central directory declares for the file's only member."""
    data = bytearray(path.read_bytes())
    entry = data.index(b"PK\x01\x02")
    data[entry + 24:entry + 28] = struct.pack("<I", size)
    path.write_bytes(bytes(data))


# save: atomic ------------------------------------------------------------------------------------

def test_a_save_that_fails_halfway_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    lucid.save(state(), path)
    before = path.read_bytes()
    real_write_array = np.lib.format.write_array
    written = []

    def fail_halfway(member, array, **kwargs):
        if written:  # the second array: write half of it, then the disk fills up
            buffer = io.BytesIO()
            real_write_array(buffer, array, **kwargs)
            member.write(buffer.getvalue()[:len(buffer.getvalue()) // 2])
            raise OSError("No space left on device")
        written.append(array)
        real_write_array(member, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", fail_halfway)
    with pytest.raises(lucid.LucidError, match="save: can.t write .*model.npz.: No space left"):
        lucid.save({"weight": lucid.full((2, 3), 5.0), "bias": lucid.ones(3), "step": 8}, path)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # the temporary file is gone too
    monkeypatch.undo()
    assert lucid.load(path)["step"] == 7


def test_save_syncs_the_data_before_it_replaces_the_file(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(os, "replace", lambda a, b: (events.append(("replace", os.path.dirname(a))),
                                                     real_replace(a, b))[1])
    lucid.save(state(), tmp_path / "model.npz")
    assert events[:2] == ["fsync", ("replace", str(tmp_path))]  # a temporary file in the same folder


def test_save_to_an_open_file_still_works(tmp_path):
    buffer = io.BytesIO()
    lucid.save(state(), buffer)
    buffer.seek(0)
    assert lucid.load(buffer)["weight"].shape == (2, 3)


def test_save_keeps_the_permissions_of_the_file_it_replaces(tmp_path):
    path = tmp_path / "secret.npz"
    lucid.save(state(), path)
    path.chmod(0o600)
    lucid.save(state(), path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_new_file_gets_the_mode_open_would_give_it(tmp_path):
    umask = os.umask(0o027)
    try:
        lucid.save(state(), tmp_path / "model.npz")
        with open(tmp_path / "plain", "wb"):
            pass
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "model.npz").stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)
    assert stat.S_IMODE((tmp_path / "model.npz").stat().st_mode) == 0o640


@pytest.mark.parametrize("target_exists", [True, False])
def test_save_writes_through_a_symlink(tmp_path, target_exists):
    (tmp_path / "runs").mkdir()
    real = tmp_path / "runs" / "model-7.npz"
    if target_exists:
        lucid.save({"step": 6}, real)
    link = tmp_path / "latest.npz"
    link.symlink_to(real)
    lucid.save(state(), link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert lucid.load(real)["step"] == 7
    assert sorted(os.listdir(tmp_path / "runs")) == ["model-7.npz"]  # the temporary file was beside it


def test_save_into_a_missing_folder_names_the_target(tmp_path):
    path = tmp_path / "no" / "model.npz"
    with pytest.raises(lucid.LucidError, match=rf"save: can't write '{path}': No such file or directory"):
        lucid.save(state(), str(path))


@pytest.mark.parametrize("scalar, name", [(np.datetime64("2020-01-01"), "datetime64"),
                                          (np.timedelta64(3, "s"), "timedelta64"), (np.bytes_(b"a"), "bytes_"),
                                          (np.longdouble(1.5), "longdouble"), (np.complex64(1 + 2j), "complex64"),
                                          (1 + 2j, "complex")])
def test_save_refuses_a_scalar_json_cannot_hold(tmp_path, scalar, name):
    with pytest.raises(lucid.LucidError, match=rf"save: can't save a {name} at \['meta'\]\['d'\]"):
        lucid.save({"meta": {"d": scalar}}, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)


def test_numpy_scalars_that_json_holds_round_trip(tmp_path):
    saved = {"a": np.float32(0.5), "b": np.int64(3), "c": np.bool_(True), "d": np.str_("x")}
    lucid.save(saved, tmp_path / "x.npz")
    assert lucid.load(tmp_path / "x.npz") == {"a": 0.5, "b": 3, "c": True, "d": "x"}


# save: keys that would collide ---------------------------------------------------------------------

@pytest.mark.parametrize("obj, first, second, name", [
    ({"1": lucid.ones(1), 1: lucid.ones(1)}, r"\['1'\]", r"\[1\]", "1"),
    ({"a/b": lucid.ones(1), "a": {"b": lucid.ones(1)}}, r"\['a/b'\]", r"\['a'\]\['b'\]", "a/b"),
    ({"__lucid__": lucid.ones(1)}, "Lucid's own '__lucid__'", r"\['__lucid__'\]", "__lucid__"),
])
def test_keys_that_would_collide_in_the_file_are_refused(tmp_path, obj, first, second, name):
    path = tmp_path / "x.npz"
    with pytest.raises(lucid.LucidError, match=rf"save: the keys at {first} and at {second} would both be "
                                               rf"stored as the array '{name}'"):
        lucid.save(obj, path)
    assert not path.exists() and not os.listdir(tmp_path)


def test_keys_that_name_no_array_may_look_alike(tmp_path):
    lucid.save({"1": 1, 1: 2, "a/b": 3, "a": {"b": 4}}, tmp_path / "x.npz")
    assert lucid.load(tmp_path / "x.npz") == {"1": 1, 1: 2, "a/b": 3, "a": {"b": 4}}


def test_save_refuses_an_object_that_contains_itself(tmp_path):
    loop = [lucid.ones(1)]
    loop.append(loop)
    with pytest.raises(lucid.LucidError, match="nests deeper than 100 levels"):
        lucid.save(loop, tmp_path / "x.npz")


# load: malformed files -----------------------------------------------------------------------------

def load_error(path, **kwargs):
    with pytest.raises(lucid.LucidError) as caught:
        lucid.load(path, **kwargs)
    assert str(path) in str(caught.value)  # the message names the file
    return str(caught.value)


def test_load_names_the_file_that_is_not_a_zip(tmp_path):
    (tmp_path / "notes.npz").write_text("hello")
    assert "not a zip archive" in load_error(tmp_path / "notes.npz")


def test_load_recognises_a_npy(tmp_path):
    np.save(tmp_path / "w.npy", np.ones(3))
    assert "a single .npy array, not an .npz archive" in load_error(tmp_path / "w.npy")


def test_load_of_a_truncated_file(tmp_path):
    lucid.save(state(), tmp_path / "model.npz")
    data = (tmp_path / "model.npz").read_bytes()
    for length in (0, 10, len(data) // 2, len(data) - 1):
        (tmp_path / "cut.npz").write_bytes(data[:length])
        load_error(tmp_path / "cut.npz")


def test_load_of_a_flipped_bit_in_the_data(tmp_path):
    lucid.save({"w": lucid.arange(256.0)}, tmp_path / "model.npz")
    data = bytearray((tmp_path / "model.npz").read_bytes())
    data[data.index(np.arange(256.0, dtype=np.float32)[100:101].tobytes())] ^= 0x10
    (tmp_path / "flipped.npz").write_bytes(bytes(data))
    assert "Bad CRC-32" in load_error(tmp_path / "flipped.npz")


def test_any_flipped_byte_gives_a_lucid_error_or_a_clean_load(tmp_path):
    """Every byte of a small file, flipped in turn: never an exception other than LucidError."""
    lucid.save({"w": lucid.ones(2), "n": [1, (2.5, None)]}, tmp_path / "model.npz")
    data = (tmp_path / "model.npz").read_bytes()
    refused = 0
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        try:
            lucid.load(io.BytesIO(bytes(flipped)))
        except lucid.LucidError:
            refused += 1
    assert refused > len(data) // 2


def test_load_of_a_zip_directory_that_lost_entries(tmp_path):
    """A flipped comment length makes zipfile skip the entries after it; '__lucid__' is the last one."""
    path = tmp_path / "model.npz"
    lucid.save({"w": lucid.ones(2), "b": lucid.zeros(2), "meta": {"epoch": 3}}, path)
    data = bytearray(path.read_bytes())
    data[data.index(b"PK\x01\x02") + 33] ^= 0x5C  # the high byte of the first entry's comment length
    path.write_bytes(bytes(data))
    assert "zip directory is corrupted: the end record declares 3 entries, but the directory holds 1" \
        in load_error(path)


def test_a_plain_npz_from_numpy_still_loads(tmp_path):
    np.savez(tmp_path / "plain.npz", w=np.ones(2), b=np.zeros(3))
    loaded = lucid.load(tmp_path / "plain.npz")
    assert sorted(loaded) == ["b", "w"] and isinstance(loaded["w"], lucid.Tensor)


def test_load_refuses_two_members_of_one_name(tmp_path):
    path = tmp_path / "x.npz"
    with pytest.warns(UserWarning, match="Duplicate name"):
        write_zip(path, {"w.npy": np.ones(2)})
        with zipfile.ZipFile(path, "a") as archive:
            with archive.open("w.npy", "w") as member:
                np.lib.format.write_array(member, np.zeros(2))
    assert "two members named 'w.npy'" in load_error(path)


@pytest.mark.parametrize("max_bytes", ["10", True, 0, -1, 1.5])
def test_load_checks_max_bytes(tmp_path, max_bytes):
    lucid.save(state(), tmp_path / "model.npz")
    message = load_error(tmp_path / "model.npz", max_bytes=max_bytes)
    assert f"max_bytes must be a positive int (or None for no limit), got {max_bytes!r}" in message


def test_load_of_a_structure_naming_a_missing_array(tmp_path):
    path = write_zip(tmp_path / "x.npz", {"__lucid__.npy": structure({"dict": [["w", {"tensor": "w"}]]})})
    assert "refers to an array 'w' that the file does not have" in load_error(path)


def test_load_of_bad_json(tmp_path):
    path = write_zip(tmp_path / "x.npz", {"__lucid__.npy": np.array('{"dict": [')})
    assert "'__lucid__' is not valid JSON" in load_error(path)


def test_nesting_up_to_the_limit_round_trips(tmp_path):
    deep = lucid.ones(1)
    for _ in range(100):
        deep = [deep]
    lucid.save(deep, tmp_path / "x.npz")
    back = lucid.load(tmp_path / "x.npz")
    for _ in range(100):
        back = back[0]
    assert back.tolist() == [1.0]
    with pytest.raises(lucid.LucidError, match="nests deeper than 100 levels"):
        lucid.save([deep], tmp_path / "x.npz")


@pytest.mark.parametrize("depth", [101, 100_000])
def test_load_of_deep_nesting(tmp_path, depth):
    text = '{"list": [' * depth + "1" + "]}" * depth
    path = write_zip(tmp_path / "x.npz", {"__lucid__.npy": np.array(text)})
    assert "deeper than 100 levels" in load_error(path) or "not valid JSON" in load_error(path)


@pytest.mark.parametrize("description", [[1, 2], {"list": 3}, {"dict": [[1]]}, {"tensor": 1, "list": []},
                                          {"pickle": "x"}])
def test_load_of_a_structure_of_the_wrong_form(tmp_path, description):
    path = write_zip(tmp_path / "x.npz", {"__lucid__.npy": structure(description)})
    assert "'__lucid__'" in load_error(path)


@pytest.mark.parametrize("array, dtype", [(np.array(["a", "bc"]), "<U2"), (np.array([b"a"]), "|S1"),
                                          (np.array([1, "a"], dtype=object), "object")])
def test_load_refuses_string_and_object_arrays(tmp_path, array, dtype):
    path = write_zip(tmp_path / "x.npz", {"w.npy": array})
    assert f"array 'w.npy' has dtype {dtype}; lucid.load reads only numbers and bools" in load_error(path)


def test_load_refuses_a_member_that_is_not_an_array(tmp_path):
    path = write_zip(tmp_path / "x.npz", {"w.npy": np.ones(2), "run.py": b"print('hi')"})
    assert "member 'run.py' is not a .npy array" in load_error(path)


def test_load_refuses_a_header_that_disagrees_with_the_data(tmp_path):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ones(4))
    header_says_more = buffer.getvalue().replace(b"(4,)", b"(9,)")
    path = write_zip(tmp_path / "x.npz", {"w.npy": header_says_more})
    assert "needs 72 bytes, but the archive holds 32" in load_error(path)


class WritesAFile:
    """Unpickling this object opens (creates) the file named: code run by the loader."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_loading_never_executes_code(tmp_path):
    marker = tmp_path / "pwned"
    path = write_zip(tmp_path / "evil.npz", {"w.npy": np.array([WritesAFile(marker)], dtype=object)})
    with np.load(path, allow_pickle=True) as archive:  # the payload is live: pickle runs it
        archive["w"]
    assert marker.exists()
    marker.unlink()
    assert "dtype object" in load_error(path)
    assert not marker.exists()


# load: a decompression limit ------------------------------------------------------------------------

def zeros_bomb(path, megabytes):
    """A small .npz whose one array inflates to `megabytes` MiB of zeros."""
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.zeros(megabytes << 18, dtype=np.float32))
    return write_zip(path, {"w.npy": buffer.getvalue()}, compression=zipfile.ZIP_DEFLATED)


def peak_memory(fn):
    tracemalloc.start()
    try:
        fn()
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


def test_a_zip_bomb_is_refused_before_it_inflates(tmp_path):
    path = zeros_bomb(tmp_path / "bomb.npz", 16)
    assert path.stat().st_size < 100_000
    assert lucid.load(path, max_bytes=None)["w"].shape == (4 << 20,)  # it really inflates to 16 MiB
    peak = peak_memory(lambda: load_error(path, max_bytes=1 << 20))
    assert peak < 1 << 20, f"peak {peak} bytes"
    message = load_error(path, max_bytes=1 << 20)
    assert f"would inflate to {(16 << 20) + 128} bytes in all, more than max_bytes=1048576" in message


def test_the_default_cap_is_one_gibibyte(tmp_path):
    path = write_zip(tmp_path / "x.npz", {"w.npy": np.ones(2)})
    declare_size(path, 2 << 30)
    peak = peak_memory(lambda: load_error(path))
    assert peak < 1 << 20, f"peak {peak} bytes"
    assert f"more than max_bytes={1 << 30}" in load_error(path)
    assert serialization.DEFAULT_MAX_BYTES == 1 << 30


def test_a_bomb_that_lies_about_its_size_is_stopped_while_reading(tmp_path):
    path = zeros_bomb(tmp_path / "liar.npz", 16)
    declare_size(path, 1000)  # the central directory says 1000 bytes; the data inflates to 16 MiB
    peak = peak_memory(lambda: load_error(path))
    assert peak < 1 << 20, f"peak {peak} bytes"
    assert "Bad CRC-32 for file 'w.npy'" in load_error(path)  # zipfile stops at the declared size


def test_a_lying_size_that_fits_the_header_fails_its_checksum(tmp_path):
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ones(64))
    body = buffer.getvalue().replace(b"(64,)", b"(63,)")  # the header and the declared size agree on 63
    path = write_zip(tmp_path / "x.npz", {"w.npy": body}, compression=zipfile.ZIP_DEFLATED)
    declare_size(path, len(body) - 8)
    assert "Bad CRC-32" in load_error(path)
