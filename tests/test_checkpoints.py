"""Tests for ``fg.save`` / ``fg.load``: round trips (structure, dtypes, weak types,
namedtuples, registered classes through ``target``), atomic writes and every corruption
case (each must raise ``ValueError``)."""
import collections
import json
import os
import zipfile

import numpy as np
import pytest

import funcgrad as fg
import funcgrad.numpy as fnp
from funcgrad import checkpoints, random, tree

AdamState = collections.namedtuple("AdamState", ["count", "mu", "nu"])


class Opt(collections.namedtuple("Opt", "step params")):
    pass


@tree.register_pytree_node_class
class Linear:
    def __init__(self, w, b, name="lin"):
        self.w, self.b, self.name = w, b, name

    def tree_flatten(self):
        return (self.w, self.b), self.name

    @classmethod
    def tree_unflatten(cls, name, children):
        return cls(*children, name=name)


def _a(x):
    return np.asarray(x)


def _assert_same(a, b):
    la, ta = tree.flatten(a)
    lb, tb = tree.flatten(b)
    assert ta == tb, (ta, tb)
    for x, y in zip(la, lb):
        assert isinstance(y, fg.Array)
        assert np.asarray(x).dtype == y.dtype, (np.asarray(x).dtype, y.dtype)
        np.testing.assert_array_equal(np.asarray(x), _a(y))


def _example():
    return {
        "params": {"w": fnp.ones((2, 3)), "b": np.zeros(3, np.float64)},
        "key": random.key(42),
        "ints": [np.arange(4, dtype=np.int64), np.array(-3, np.int8), np.array(7, np.uint16)],
        "flags": np.array([True, False]),
        "half": np.array([1.5, -2.25], np.float16),
        "cplx": np.array([1 + 2j], np.complex64),
        "empty": np.zeros((0, 3), np.float32),
        "nested": ({"a": None}, [None, (np.float32(2.5),)]),
        "opt": AdamState(count=np.array(3, np.int32), mu=fnp.zeros(2), nu=fnp.ones(2)),
        "by_int": {7: np.array(7.0, np.float32), 2: np.ones(2, np.float32)},
        "ordered": collections.OrderedDict([("z", np.ones(1)), ("a", np.zeros(1))]),
    }


def test_round_trip_structure_and_dtypes(tmp_path):
    p = tmp_path / "ckpt.fgz"
    t = _example()
    fg.save(p, t)
    assert os.listdir(tmp_path) == ["ckpt.fgz"]          # exactly path, no temp files left
    r = fg.load(p)
    _assert_same(t, r)
    assert list(r.keys()) == list(t.keys())              # insertion order and key types kept
    assert list(r["by_int"]) == [7, 2] and isinstance(r["opt"], AdamState)
    assert type(r["ordered"]) is collections.OrderedDict and list(r["ordered"]) == ["z", "a"]
    assert r["key"].dtype == np.uint32
    np.testing.assert_array_equal(_a(random.normal(r["key"], (3,))),
                                  _a(random.normal(random.key(42), (3,))))
    assert r["nested"][0] == {"a": None} and r["nested"][1][0] is None


def test_python_scalars_and_weak_types(tmp_path):
    p = str(tmp_path / "s")
    fg.save(p, {"lr": 0.1, "steps": 3, "on": True, "w": fnp.array(2.0) * 1.0, "c": 1j})
    r = fg.load(p)
    assert r["lr"].dtype == np.float32 and r["lr"].weak_type
    assert r["steps"].dtype == np.int32 and r["steps"].weak_type
    assert r["on"].dtype == np.bool_ and not r["on"].weak_type
    assert r["c"].dtype == np.complex64
    assert float(r["lr"]) == np.float32(0.1)
    # weak Arrays keep their weak flag (so promotion with float16 data is unchanged)
    assert (r["lr"] * np.ones(2, np.float16)).dtype == np.float16


def test_root_leaf_and_empty_trees(tmp_path):
    for t in (fnp.arange(5), None, [], {}, (), [[], {}]):
        p = tmp_path / "x"
        fg.save(p, t)
        r = fg.load(p)
        if t is None or isinstance(t, (list, tuple, dict)):
            assert r == t or (type(r) is type(t) and len(r) == 0)
        else:
            np.testing.assert_array_equal(_a(r), _a(t))


def test_namedtuple_subclass_and_unimported_module(tmp_path):
    p = tmp_path / "nt"
    fg.save(p, Opt(step=np.array(1), params=(fnp.ones(2),)))
    r = fg.load(p)
    assert type(r) is Opt and r.step.dtype == np.int64
    # a namedtuple whose module cannot be found is rebuilt as a stand-in namedtuple
    with zipfile.ZipFile(p) as z:
        man = json.loads(z.read("funcgrad_checkpoint.json"))
    man["tree"]["module"] = "no_such_module_xyz"
    _rewrite(p, man)
    r = fg.load(p)
    assert type(r).__name__ == "Opt" and r._fields == ("step", "params") and r.step == 1


def test_funcgrad_namedtuples_are_imported(tmp_path):
    # a namedtuple class from a module that is not imported (and not funcgrad's) is
    # never imported: a stand-in with the same fields comes back
    State = collections.namedtuple("State", "a")
    State.__module__ = "tests_fake_mod"
    p = tmp_path / "s"
    fg.save(p, State(a=np.ones(1)))
    r = fg.load(p)
    assert r._fields == ("a",)


def test_registered_class_needs_target(tmp_path):
    p = tmp_path / "lin"
    lin = Linear(fnp.ones((2, 2)), fnp.zeros(2), name="first")
    t = {"layer": lin, "step": np.array(5)}
    fg.save(p, t)
    with pytest.raises(ValueError, match="target"):
        fg.load(p)
    like = {"step": np.array(0), "layer": Linear(np.zeros((2, 2), np.float32),
                                                  np.zeros(2, np.float32), name="first")}
    r = fg.load(p, target=like)
    assert isinstance(r["layer"], Linear) and r["layer"].name == "first"
    np.testing.assert_array_equal(_a(r["layer"].w), np.ones((2, 2)))
    assert int(r["step"]) == 5 and list(r) == ["step", "layer"]     # target's order
    # targets may hold ShapeDtypeStructs or arbitrary placeholder leaves
    r2 = fg.load(p, target={"layer": Linear(0, 0, name="first"),
                            "step": fg.ShapeDtypeStruct((), np.int64)})
    assert isinstance(r2["layer"], Linear)


def test_target_mismatch_errors(tmp_path):
    p = tmp_path / "t"
    fg.save(p, {"w": fnp.ones((2, 3)), "b": fnp.zeros(3)})
    with pytest.raises(ValueError, match="keys differ"):
        fg.load(p, target={"w": np.ones((2, 3), np.float32)})
    with pytest.raises(ValueError, match=r"float32\(3, 2\)"):
        fg.load(p, target={"w": np.ones((3, 2), np.float32), "b": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="float64"):
        fg.load(p, target={"w": np.ones((2, 3)), "b": np.zeros(3)})
    with pytest.raises(ValueError, match="list"):
        fg.load(p, target=[1, 2])
    r = fg.load(p, target={"b": 0, "w": 0})
    assert r["w"].shape == (2, 3)


def test_save_errors(tmp_path):
    p = tmp_path / "bad"
    with pytest.raises(ValueError, match="not an array"):
        fg.save(p, {"a": "text"})
    with pytest.raises(ValueError, match="dtype"):
        fg.save(p, {"a": np.array(["x"])})
    with pytest.raises(ValueError, match="dtype"):
        fg.save(p, {"a": np.array([object()], dtype=object)})
    with pytest.raises(ValueError, match="key"):
        fg.save(p, {(1, 2): np.ones(1)})
    with pytest.raises(ValueError, match="traced"):
        fg.jit(lambda x: fg.save(p, x))(fnp.ones(2))
    assert not p.exists() and os.listdir(tmp_path) == []


def test_atomic_write_keeps_previous_checkpoint(tmp_path, monkeypatch):
    p = tmp_path / "ckpt"
    fg.save(p, {"v": fnp.array([1.0, 2.0])})
    before = p.read_bytes()
    calls = []
    real = np.lib.format.write_array

    def crash(*a, **k):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("simulated crash mid-write")
        return real(*a, **k)

    monkeypatch.setattr(np.lib.format, "write_array", crash)
    with pytest.raises(KeyboardInterrupt):
        fg.save(p, {"a": fnp.ones(1000), "b": fnp.zeros(1000)})
    monkeypatch.undo()
    assert p.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt"]
    np.testing.assert_array_equal(_a(fg.load(p)["v"]), [1.0, 2.0])
    # overwriting keeps the file's permissions
    os.chmod(p, 0o640)
    fg.save(p, {"v": fnp.array([3.0])})
    assert (os.stat(p).st_mode & 0o777) == 0o640
    np.testing.assert_array_equal(_a(fg.load(p)["v"]), [3.0])


# ----------------------------------------------------------------------------- corruption

def _rewrite(path, manifest=None, members=None, drop=(), first=None):
    """Rewrite a checkpoint with a modified manifest and/or members."""
    with zipfile.ZipFile(path) as z:
        items = [(n, z.read(n)) for n in z.namelist()]
        comment = z.comment
    out = []
    for n, data in items:
        if n in drop:
            continue
        if n == "funcgrad_checkpoint.json" and manifest is not None:
            data = json.dumps(manifest).encode()
        if members and n in members:
            data = members[n]
        out.append((n, data))
    if first is not None:
        out.sort(key=lambda nd: nd[0] != first)
    for n, data in (members or {}).items():
        if n not in dict(items):
            out.append((n, data))
    with zipfile.ZipFile(path, "w") as z:
        z.comment = comment
        for n, data in out:
            z.writestr(n, data)


@pytest.fixture
def saved(tmp_path):
    p = tmp_path / "c.fgz"
    fg.save(p, {"w": fnp.arange(100.0).reshape(10, 10), "k": random.key(1)})
    return p


def test_truncated_file(saved):
    data = saved.read_bytes()
    for cut in (len(data) // 2, len(data) - 10, 30, 0):
        saved.write_bytes(data[:cut])
        with pytest.raises(ValueError, match="not a valid funcgrad-checkpoint"):
            fg.load(saved)


def test_corrupt_bytes_crc(saved):
    data = bytearray(saved.read_bytes())
    i = data.find(b"\x93NUMPY")            # first .npy member; flip a byte of its data
    data[i + 200] ^= 0xFF
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupt|CRC"):
        fg.load(saved)


def test_garbage_and_foreign_files(tmp_path):
    g = tmp_path / "garbage"
    g.write_bytes(b"this is not a checkpoint at all" * 10)
    with pytest.raises(ValueError, match="not a ZIP"):
        fg.load(g)
    n = tmp_path / "plain.npz"
    np.savez(n, a=np.ones(3), b=np.zeros(2))
    with pytest.raises(ValueError, match="plain .npz"):
        fg.load(n)
    z = tmp_path / "other.zip"
    with zipfile.ZipFile(z, "w") as f:
        f.writestr("readme.txt", "hello")
    with pytest.raises(ValueError, match="foreign"):
        fg.load(z)
    with pytest.raises(FileNotFoundError):
        fg.load(tmp_path / "missing")


def _manifest(p):
    with zipfile.ZipFile(p) as z:
        return json.loads(z.read("funcgrad_checkpoint.json"))


def test_wrong_format_or_version(saved):
    m = _manifest(saved)
    m["format"] = "something-else"
    _rewrite(saved, m)
    with pytest.raises(ValueError, match="wrong format name"):
        fg.load(saved)
    m["format"] = "funcgrad-checkpoint"
    m["version"] = 99
    _rewrite(saved, m)
    with pytest.raises(ValueError, match="version 99"):
        fg.load(saved)
    _rewrite(saved, members={"funcgrad_checkpoint.json": b"{not json"})
    with pytest.raises(ValueError, match="JSON"):
        fg.load(saved)


def test_wrong_archive_comment(saved):
    with zipfile.ZipFile(saved, "a") as z:
        z.comment = b"something else"
    with pytest.raises(ValueError, match="archive comment"):
        fg.load(saved)


def test_member_that_needs_pickle(saved):
    import io
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.array([{"evil": 1}], dtype=object), allow_pickle=True)
    m = _manifest(saved)
    _rewrite(saved, members={m["leaves"][0]["file"]: buf.getvalue()})
    with pytest.raises(ValueError, match="pickle"):
        fg.load(saved)
    m["leaves"][0]["dtype"] = "object"
    _rewrite(saved, m)
    with pytest.raises(ValueError, match="unsupported dtype"):
        fg.load(saved)


def test_manifest_array_mismatch(saved):
    m = _manifest(saved)
    bad = json.loads(json.dumps(m))
    bad["leaves"][0]["shape"] = [10, 9]
    _rewrite(saved, bad)
    with pytest.raises(ValueError, match="manifest says"):
        fg.load(saved)
    bad = json.loads(json.dumps(m))
    bad["leaves"][1]["dtype"] = "int32"
    _rewrite(saved, bad)
    with pytest.raises(ValueError, match="manifest says"):
        fg.load(saved)
    bad = json.loads(json.dumps(m))
    bad["leaves"].append(dict(bad["leaves"][0], file="arrays/9.npy"))
    _rewrite(saved, bad)
    with pytest.raises(ValueError, match="leaves"):
        fg.load(saved)
    bad = json.loads(json.dumps(m))
    bad["tree"]["children"][0] = {"kind": "leaf", "index": 5}
    _rewrite(saved, bad)
    with pytest.raises(ValueError, match="leaf index"):
        fg.load(saved)
    bad = json.loads(json.dumps(m))
    bad["tree"]["kind"] = "set"
    _rewrite(saved, bad)
    with pytest.raises(ValueError, match="bad tree node"):
        fg.load(saved)


def test_missing_and_extra_members(tmp_path):
    p = tmp_path / "c"
    fg.save(p, [fnp.ones(2), fnp.zeros(3)])
    _rewrite(p, drop=("arrays/1.npy",))
    with pytest.raises(ValueError, match="missing"):
        fg.load(p)
    fg.save(p, [fnp.ones(2)])
    _rewrite(p, members={"extra.bin": b"x"})
    with pytest.raises(ValueError, match="unexpected members"):
        fg.load(p)
    fg.save(p, [fnp.ones(2)])
    _rewrite(p, first="arrays/0.npy")
    with pytest.raises(ValueError, match="first member"):
        fg.load(p)


def test_format_is_documented_and_readable_without_funcgrad(tmp_path):
    p = tmp_path / "c"
    fg.save(p, {"w": fnp.arange(3.0)})
    with zipfile.ZipFile(p) as z:
        assert z.namelist()[0] == "funcgrad_checkpoint.json"
        assert z.comment == b"funcgrad-checkpoint 1"
        assert all(i.compress_type == zipfile.ZIP_STORED for i in z.infolist())
        m = json.loads(z.read("funcgrad_checkpoint.json"))
        assert m["format"] == checkpoints.FORMAT_NAME and m["version"] == 1
        leaf = m["leaves"][0]
        with z.open(leaf["file"]) as f:
            arr = np.lib.format.read_array(f, allow_pickle=False)
    np.testing.assert_array_equal(arr, [0.0, 1.0, 2.0])
    assert leaf["dtype"] == "float32" and leaf["shape"] == [3] and leaf["path"] == "['w']"
