"""Checkpoints: ``save(path, tree)`` / ``load(path, target=None)`` without pickle.

>>> import funcgrad as fg, funcgrad.numpy as fnp
>>> params = {"w": fnp.ones((2, 3)), "b": fnp.zeros(3), "step": fnp.array(7)}
>>> fg.save("/tmp/ckpt.fgz", params)
>>> restored = fg.load("/tmp/ckpt.fgz")
>>> restored["w"].shape, restored["step"].dtype
((2, 3), dtype('int32'))

File format (``funcgrad-checkpoint``, version 1)
------------------------------------------------
An uncompressed ZIP archive (``ZIP_STORED``, ZIP64 when needed) whose archive comment
is ``funcgrad-checkpoint 1`` and whose members are

* ``funcgrad_checkpoint.json`` (always the first member): the manifest, a UTF-8 JSON
  object ``{"format": "funcgrad-checkpoint", "version": 1, "funcgrad_version": ...,
  "tree": NODE, "leaves": [LEAF, ...]}``;
* ``arrays/<i>.npy``: leaf ``i`` in NumPy's ``.npy`` format, written with
  ``allow_pickle=False`` (so only plain numeric/bool dtypes can occur).

A ``NODE`` is one of::

    {"kind": "leaf", "index": i}
    {"kind": "none"}
    {"kind": "list" | "tuple", "children": [NODE, ...]}
    {"kind": "dict" | "ordered_dict", "keys": [KEY, ...], "children": [NODE, ...]}
    {"kind": "namedtuple", "module": m, "qualname": q, "fields": [f, ...],
     "children": [NODE, ...]}
    {"kind": "custom", "type": "module.qualname", "children": [NODE, ...]}

where a ``KEY`` is ``{"type": "str" | "int" | "float" | "bool", "value": v}`` (dict
keys keep their type and insertion order).  A ``LEAF`` is ``{"file": "arrays/i.npy",
"dtype": "float32", "shape": [...], "weak_type": false, "path": "['w']"}``.

Loading
-------
``load`` returns ``fg.Array`` leaves with their dtypes (uint32 PRNG keys, ints,
bools, float16/32/64, complex) and weak types, and rebuilds dicts, ordered dicts,
lists, tuples, ``None`` and namedtuples.  A namedtuple class is looked up by module
and qualified name and used only if it really is a namedtuple class with the saved
fields -- nothing else named in a file is ever called.  Its module is imported only
when it belongs to ``funcgrad`` or to a package that is already imported; otherwise
a stand-in namedtuple type with the same name and fields is built.  Other registered
pytree classes (``"custom"`` nodes) are restored through ``load(path,
target=like_tree)``: the leaves are placed into the structure of ``target``, which
must match the saved structure (leaf shapes and dtypes are checked when ``target``
has arrays).

Any problem with the file -- truncation, a corrupt ZIP or CRC error, a foreign file
(including a plain ``.npz`` written by NumPy), a wrong format name or version, a member
that would need pickle, or a manifest that disagrees with the arrays -- raises
``ValueError`` with the path and the reason.

Saving is atomic: the archive is written to a temporary file in the same directory,
flushed and ``fsync``-ed, then moved over ``path`` with ``os.replace`` (and the
directory is ``fsync``-ed), so a crash mid-write leaves any previous checkpoint intact.
``save`` writes exactly ``path`` (no extension is added).
"""
from __future__ import annotations

import collections
import importlib
import json
import os
import sys
import tempfile
import zipfile

import numpy as np

from .core import dtypes, pytree
from .core.array import Array
from .core.trace import Tracer

__all__ = ["save", "load", "FORMAT_NAME", "FORMAT_VERSION"]

#: The archive comment and manifest ``format`` field identifying a funcgrad checkpoint.
FORMAT_NAME = "funcgrad-checkpoint"
#: The checkpoint format version this library writes (and the newest it reads).
FORMAT_VERSION = 1
_MANIFEST = "funcgrad_checkpoint.json"
_COMMENT = f"{FORMAT_NAME} {FORMAT_VERSION}".encode()
_SUPPORTED = {np.dtype(d).name: np.dtype(d) for d in dtypes.SUPPORTED}


# ----------------------------------------------------------------------------- encoding

def _is_namedtuple_type(t):
    return isinstance(t, type) and issubclass(t, tuple) and hasattr(t, "_fields")


def _encode_key(k, path):
    if isinstance(k, bool):
        return {"type": "bool", "value": k}
    if isinstance(k, (int, np.integer)):
        return {"type": "int", "value": int(k)}
    if isinstance(k, str):
        return {"type": "str", "value": k}
    if isinstance(k, (float, np.floating)):
        v = float(k)
        if not np.isfinite(v):
            raise ValueError(f"save: dict key {k!r} at {path or 'the root'} is not finite")
        return {"type": "float", "value": v}
    raise ValueError(f"save: dict key {k!r} of type {type(k).__name__} at "
                     f"{path or 'the root'} cannot be stored; keys must be str, int, float "
                     "or bool")


def _decode_key(e):
    t, v = e.get("type"), e.get("value")
    conv = {"str": str, "int": int, "float": float, "bool": bool}.get(t)
    if conv is None or not isinstance(v, {"str": str, "int": int, "float": (int, float),
                                          "bool": bool}[t]):
        raise _Corrupt(f"bad dict key entry {e!r}")
    return conv(v)


def _leaf_to_numpy(x, path):
    """``(raw ndarray, weak_type)`` for a leaf, or a ValueError naming it."""
    if isinstance(x, Tracer):
        raise ValueError(f"save: the leaf at {path or 'the root'} is a traced value "
                         f"({x.aval.str_short()}); save concrete arrays, outside jit/grad/"
                         "vmap")
    if type(x) is Array:
        v, weak = np.asarray(x), bool(x._weak)
    elif isinstance(x, np.ndarray):
        v, weak = x, False
    elif isinstance(x, np.generic):
        v, weak = np.asarray(x), False
    elif isinstance(x, bool):
        v, weak = np.asarray(x, np.bool_), False
    elif isinstance(x, (int, float, complex)):
        v, weak = np.asarray(x, dtypes.python_scalar_dtype(x)), True
    elif hasattr(x, "__array__") and hasattr(x, "dtype") and hasattr(x, "shape"):
        v, weak = np.asarray(x), False
    else:
        raise ValueError(f"save: the leaf at {path or 'the root'} has type "
                         f"{type(x).__name__}, which is not an array; checkpoints hold "
                         "arrays and Python numbers only (no pickle)")
    if v.dtype not in dtypes.SUPPORTED:
        raise ValueError(f"save: the leaf at {path or 'the root'} has dtype {v.dtype}, "
                         "which cannot be stored without pickle; supported dtypes are "
                         f"{', '.join(sorted(_SUPPORTED))}")
    return v, weak


def _encode(x, path, leaves):
    """The manifest NODE for ``x``; appends ``(path, ndarray, weak)`` to ``leaves``."""
    if x is None:
        return {"kind": "none"}
    t = type(x)
    if t is list or t is tuple:
        return {"kind": t.__name__,
                "children": [_encode(c, f"{path}[{i}]", leaves)
                             for i, c in enumerate(x)]}
    if t is dict or t is collections.OrderedDict:
        keys = list(x.keys())
        return {"kind": "dict" if t is dict else "ordered_dict",
                "keys": [_encode_key(k, path) for k in keys],
                "children": [_encode(x[k], f"{path}[{k!r}]", leaves)
                             for k in keys]}
    if t in pytree._registry:
        kids, _ = pytree._registry[t].flatten(x)
        return {"kind": "custom", "type": f"{t.__module__}.{t.__qualname__}",
                "children": [_encode(c, f"{path}.<{i}>", leaves)
                             for i, c in enumerate(kids)]}
    if _is_namedtuple_type(t):
        return {"kind": "namedtuple", "module": t.__module__, "qualname": t.__qualname__,
                "fields": list(t._fields),
                "children": [_encode(c, f"{path}.{f}", leaves)
                             for f, c in zip(t._fields, x)]}
    v, weak = _leaf_to_numpy(x, path)
    leaves.append((path, v, weak))
    return {"kind": "leaf", "index": len(leaves) - 1}


# ----------------------------------------------------------------------------- save

def _umask():
    old = os.umask(0)
    os.umask(old)
    return old


def _fsync_dir(d):
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save(path, tree):
    """Write the pytree ``tree`` to ``path`` (atomically; exactly that file name).

    Leaves must be arrays (``fg.Array``, NumPy arrays) or Python numbers.  Tuples,
    lists, dicts (str/int/float/bool keys), ``None``, namedtuples and registered
    pytree classes are recorded in a JSON manifest; arrays as ``.npy`` members (no
    pickle).  See the module docstring for the format.

    >>> fg.save("/tmp/state.fgz", {"key": fg.random.key(0), "lr": 0.1})
    """
    path = os.fspath(path)
    leaves = []
    tree_node = _encode(tree, "", leaves)
    entries = []
    for i, (p, v, weak) in enumerate(leaves):
        entries.append({"file": f"arrays/{i}.npy", "dtype": v.dtype.name,
                        "shape": list(v.shape), "weak_type": weak, "path": p or "<root>"})
    from . import __version__
    manifest = {"format": FORMAT_NAME, "version": FORMAT_VERSION,
                "funcgrad_version": __version__, "tree": tree_node, "leaves": entries}
    blob = json.dumps(manifest, indent=1, allow_nan=False).encode("utf-8")

    d = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise IsADirectoryError(f"save: {path!r} is a directory")
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED,
                                 allowZip64=True) as zf:
                zf.comment = _COMMENT
                zf.writestr(_MANIFEST, blob)
                for e, (_, v, _) in zip(entries, leaves):
                    big = v.nbytes > (1 << 30)
                    with zf.open(e["file"], "w", force_zip64=big) as w:
                        np.lib.format.write_array(w, v,
                                                  allow_pickle=False)
            f.flush()
            os.fsync(f.fileno())
        try:
            mode = os.stat(path).st_mode & 0o777
        except FileNotFoundError:
            mode = 0o666 & ~_umask()
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(d)


# ----------------------------------------------------------------------------- load

class _Corrupt(Exception):
    pass


def _read_leaf(zf, e, i):
    if not isinstance(e, dict) or not all(k in e for k in ("file", "dtype", "shape")):
        raise _Corrupt(f"leaf entry {i} is malformed: {e!r}")
    name = e["file"]
    dt = _SUPPORTED.get(e["dtype"]) if isinstance(e["dtype"], str) else None
    if dt is None:
        raise _Corrupt(f"leaf {i} ({e.get('path')}) has unsupported dtype {e['dtype']!r}")
    shape = e["shape"]
    if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise _Corrupt(f"leaf {i} has a bad shape {shape!r}")
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise _Corrupt(f"the manifest names member {name!r}, which is missing") from None
    expected = int(np.prod(shape, dtype=np.int64)) * dt.itemsize
    if info.file_size < expected:
        raise _Corrupt(f"member {name!r} is {info.file_size} bytes, too small for "
                       f"{e['dtype']}{tuple(shape)} ({expected} bytes of data)")
    with zf.open(info) as fp:
        try:
            arr = np.lib.format.read_array(fp, allow_pickle=False)
        except ValueError as err:
            if "pickle" in str(err).lower() or "object" in str(err).lower():
                raise _Corrupt(f"member {name!r} holds an object array, which would need "
                               "pickle; refused") from None
            raise _Corrupt(f"member {name!r} is not a valid .npy array: {err}") from None
        if fp.read(1):
            raise _Corrupt(f"member {name!r} has trailing bytes after its array data")
    if arr.dtype != dt or tuple(arr.shape) != tuple(shape):
        raise _Corrupt(f"member {name!r} holds {arr.dtype}{tuple(arr.shape)} but the "
                       f"manifest says {e['dtype']}{tuple(shape)}")
    return arr


def _resolve_namedtuple(module, qualname, fields):
    """The namedtuple class ``module.qualname`` if it can be found safely, else a
    stand-in with the same name and fields.  Never calls anything named in the file."""
    mod = sys.modules.get(module)
    if mod is None:
        top = module.split(".")[0]
        if top == "funcgrad" or top in sys.modules:
            try:
                mod = importlib.import_module(module)
            except Exception:
                mod = None
    cls = mod
    if cls is not None:
        for part in qualname.split("."):
            cls = getattr(cls, part, None)
            if cls is None:
                break
    if (_is_namedtuple_type(cls) and list(cls._fields) == list(fields)
            and cls not in pytree._registry):
        return cls
    name = qualname.split(".")[-1]
    if not name.isidentifier():
        name = "RestoredNamedTuple"
    return collections.namedtuple(name, fields, rename=True)


_PLAIN = {"none", "list", "tuple", "dict", "ordered_dict", "namedtuple", "leaf", "custom"}


def _check_node(node, n_leaves, seen):
    if not isinstance(node, dict) or node.get("kind") not in _PLAIN:
        raise _Corrupt(f"bad tree node {str(node)[:100]!r}")
    k = node["kind"]
    if k == "leaf":
        i = node.get("index")
        if not isinstance(i, int) or not 0 <= i < n_leaves or i in seen:
            raise _Corrupt(f"bad leaf index {i!r}")
        seen.add(i)
        return
    if k == "none":
        return
    kids = node.get("children")
    if not isinstance(kids, list):
        raise _Corrupt(f"tree node of kind {k!r} has no children list")
    if k in ("dict", "ordered_dict") and (not isinstance(node.get("keys"), list)
                                          or len(node["keys"]) != len(kids)):
        raise _Corrupt("dict node keys do not match its children")
    if k == "namedtuple":
        f = node.get("fields")
        if (not isinstance(f, list) or len(f) != len(kids) or not all(
                isinstance(s, str) for s in f) or not isinstance(node.get("module"), str)
                or not isinstance(node.get("qualname"), str)):
            raise _Corrupt("malformed namedtuple node")
    for c in kids:
        _check_node(c, n_leaves, seen)


def _build(node, leaves, path=""):
    k = node["kind"]
    if k == "leaf":
        return leaves[node["index"]]
    if k == "none":
        return None
    kids = [_build(c, leaves, f"{path}[{i}]") for i, c in enumerate(node["children"])]
    if k == "list":
        return kids
    if k == "tuple":
        return tuple(kids)
    if k in ("dict", "ordered_dict"):
        keys = [_decode_key(e) for e in node["keys"]]
        return (dict if k == "dict" else collections.OrderedDict)(zip(keys, kids))
    if k == "namedtuple":
        cls = _resolve_namedtuple(node["module"], node["qualname"], node["fields"])
        return cls(*kids)
    raise ValueError(
        f"load: the checkpoint contains a registered pytree class {node['type']} at "
        f"{path or 'the root'}; such classes are only restored through "
        "load(path, target=like_tree) with a tree of the same structure")


def _fail(path, msg):
    return ValueError(f"load: {path!r} is not a valid {FORMAT_NAME} file: {msg}")


def load(path, target=None):
    """Read a checkpoint written by ``save``; returns the tree with ``fg.Array`` leaves.

    ``target``, a tree of the saved structure (e.g. freshly initialized parameters),
    is needed to restore registered pytree classes; with it the loaded leaves are put
    into ``target``'s structure after checking it matches the file.  Raises
    ``ValueError`` for a corrupt, truncated or foreign file.

    >>> fg.save("/tmp/p.fgz", (fnp.ones(2), None))
    >>> fg.load("/tmp/p.fgz")
    (Array([1., 1.], dtype=float32), None)
    """
    path = os.fspath(path)
    try:
        zf = zipfile.ZipFile(path, "r")
    except zipfile.BadZipFile as e:
        raise _fail(path, f"not a ZIP archive, or truncated/corrupt ({e})") from None
    except (EOFError, OSError) as e:
        if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
            raise
        raise _fail(path, f"unreadable ({e})") from None
    with zf:
        try:
            names = zf.namelist()
            if _MANIFEST not in names:
                if names and all(n.endswith(".npy") for n in names):
                    raise _Corrupt("this is a plain .npz archive (e.g. written by numpy."
                                   "savez), a foreign file; funcgrad checkpoints are "
                                   "written by funcgrad.save")
                raise _Corrupt(f"no {_MANIFEST} member (a foreign ZIP archive; members: "
                               f"{names[:5]}{'...' if len(names) > 5 else ''})")
            if names[0] != _MANIFEST:
                raise _Corrupt(f"{_MANIFEST} is not the first member")
            if zf.comment != _COMMENT:
                raise _Corrupt(f"the archive comment is {zf.comment[:40]!r}, expected "
                               f"{_COMMENT!r} (truncated file, or not written by funcgrad)")
            try:
                manifest = json.loads(zf.read(_MANIFEST).decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                raise _Corrupt(f"the manifest is not valid JSON ({e})") from None
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
                fmt = manifest.get("format") if isinstance(manifest, dict) else None
                raise _Corrupt(f"wrong format name {fmt!r} (expected {FORMAT_NAME!r})")
            version = manifest.get("version")
            if version != FORMAT_VERSION:
                raise _Corrupt(f"unsupported format version {version!r} (this funcgrad "
                               f"reads version {FORMAT_VERSION})")
            entries = manifest.get("leaves")
            node = manifest.get("tree")
            if not isinstance(entries, list):
                raise _Corrupt("the manifest has no leaves list")
            seen = set()
            _check_node(node, len(entries), seen)
            if len(seen) != len(entries):
                raise _Corrupt(f"the tree uses {len(seen)} of the {len(entries)} leaves "
                               "listed in the manifest")
            expected = {_MANIFEST} | {e.get("file") for e in entries if isinstance(e, dict)}
            extra = [n for n in names if n not in expected]
            if extra:
                raise _Corrupt(f"unexpected members {extra[:5]} not named in the manifest")
            arrays = [_read_leaf(zf, e, i) for i, e in enumerate(entries)]
        except _Corrupt as e:
            raise _fail(path, str(e)) from None
        except zipfile.BadZipFile as e:
            raise _fail(path, f"corrupt ZIP data ({e})") from None
        except (EOFError, zipfile.LargeZipFile, OSError) as e:
            raise _fail(path, f"truncated or unreadable ({type(e).__name__}: {e})") from None

    leaves = [_to_array(a, bool(e.get("weak_type", False))) for a, e in zip(arrays, entries)]
    if target is None:
        try:
            return _build(node, leaves)
        except _Corrupt as e:
            raise _fail(path, str(e)) from None
    return _into_target(path, node, leaves, target)


def _to_array(a, weak):
    from .core.backend import default_backend
    arr = Array(a, weak)
    if default_backend() != "numpy":
        from ._api import device_put
        arr = device_put(arr)
    return arr


def _into_target(path, node, leaves, target):
    """Put the loaded leaves into ``target``'s structure, checking it against the file."""
    def mismatch(where, msg):
        return ValueError(f"load: target does not match the checkpoint {path!r} at "
                          f"{where or 'the root'}: {msg}")

    def fill(y, nd, where):
        k = nd["kind"]
        t = type(y)
        if y is None:
            if k != "none":
                raise mismatch(where, f"target has None, the checkpoint a {k}")
            return None
        if t is list or t is tuple:
            if k != t.__name__ or len(nd["children"]) != len(y):
                raise mismatch(where, f"target has a {t.__name__} of length {len(y)}, the "
                                      f"checkpoint a {k}" + (f" of length {len(nd['children'])}"
                                                             if k in ("list", "tuple") else ""))
            return t(fill(c, n, f"{where}[{i}]")
                     for i, (c, n) in enumerate(zip(y, nd["children"])))
        if t is dict or t is collections.OrderedDict:
            if k not in ("dict", "ordered_dict"):
                raise mismatch(where, f"target has a dict, the checkpoint a {k}")
            saved = dict(zip((_decode_key(e) for e in nd["keys"]), nd["children"]))
            if set(saved) != set(y):
                raise mismatch(where, f"dict keys differ: checkpoint {sorted(map(repr, saved))}"
                                      f", target {sorted(map(repr, y))}")
            return t((key, fill(v, saved[key], f"{where}[{key!r}]")) for key, v in y.items())
        if t in pytree._registry:
            name = f"{t.__module__}.{t.__qualname__}"
            reg = pytree._registry[t]
            kids, aux = reg.flatten(y)
            kids = list(kids)
            if k != "custom" or nd.get("type") != name or len(nd["children"]) != len(kids):
                raise mismatch(where, f"target has a {name} with {len(kids)} children, the "
                                      f"checkpoint a {nd.get('type', k)}")
            return reg.unflatten(aux, [fill(c, n, f"{where}.<{i}>")
                                       for i, (c, n) in enumerate(zip(kids, nd["children"]))])
        if _is_namedtuple_type(t):
            if k != "namedtuple" or list(nd["fields"]) != list(t._fields):
                raise mismatch(where, f"target has namedtuple {t.__qualname__}{t._fields}, "
                                      f"the checkpoint a {k}")
            return t(*[fill(c, n, f"{where}.{f}")
                       for f, c, n in zip(t._fields, y, nd["children"])])
        if k != "leaf":
            raise mismatch(where, f"target has a leaf, the checkpoint a {k}")
        v = leaves[nd["index"]]
        shp, dt = getattr(y, "shape", None), getattr(y, "dtype", None)
        if shp is not None and dt is not None:
            if tuple(shp) != tuple(v.shape) or np.dtype(dt) != v.dtype:
                raise mismatch(where, f"target leaf is {np.dtype(dt).name}{tuple(shp)}, the "
                                      f"checkpoint holds {v.dtype.name}{tuple(v.shape)}")
        return v

    try:
        return fill(target, node, "")
    except _Corrupt as e:
        raise _fail(path, str(e)) from None
