"""``einsum``: Einstein summation lowered to ``lax`` (dot_general, reduce_sum, transpose).

Every operand is first reduced to unique labels (repeated labels become diagonals, taken
with a strided slice) and summed over the labels that appear nowhere else; the operands
are then contracted pairwise in a greedy order (smallest intermediate first) with
``lax.dot_general``; the result is transposed to the output order.
"""
from __future__ import annotations

import builtins

import numpy as np

from .. import lax
from ..core.trace import get_aval
from ._promote import asarray, result_dtype

_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _err(msg):
    return ValueError(f"fnp.einsum: {msg}")


def _parse_interleaved(args):
    """``einsum(op0, [0, 1], op1, [1, 2], [0, 2])`` -> subscripts string and operands."""
    args = list(args)
    ops, subs = [], []
    while len(args) >= 2:
        ops.append(args.pop(0))
        subs.append(args.pop(0))
    out = args[0] if args else None

    def conv(sub):
        s = ""
        for v in sub:
            if v is Ellipsis:
                s += "..."
            else:
                v = int(v)
                if not 0 <= v < len(_LETTERS):
                    raise _err(f"subscript {v} in sublist form must be in [0, 52)")
                s += _LETTERS[v]
        return s

    spec = ",".join(conv(s) for s in subs)
    if out is not None:
        spec += "->" + conv(out)
    return spec, ops


def _split_spec(subscripts, ndims):
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        lhs, out = spec.split("->", 1)
        if "->" in out:
            raise _err(f"subscripts {subscripts!r} contain more than one '->'")
        explicit = True
    else:
        lhs, out, explicit = spec, None, False
    ins = lhs.split(",")
    if len(ins) != len(ndims):
        raise _err(f"subscripts {subscripts!r} name {len(ins)} operands but "
                   f"{len(ndims)} were given")
    used = set(c for c in spec if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    # ellipsis: the broadcast dims, right-aligned across operands
    n_ell = 0
    for s, nd in zip(ins, ndims):
        core = s.replace("...", "")
        if any(not c.isalpha() for c in core):
            raise _err(f"invalid subscript in {s!r}; use letters and '...'")
        if "..." in s:
            n_ell = builtins.max(n_ell, nd - len(core))
        elif len(core) != nd:
            raise _err(f"operand subscripts {s!r} name {len(core)} axes but the operand has "
                       f"rank {nd}")
    if n_ell > len(free):
        raise _err("too many dimensions")
    ell = "".join(free[:n_ell])
    labels = []
    for s, nd in zip(ins, ndims):
        if "..." in s:
            k = nd - len(s.replace("...", ""))
            if k < 0:
                raise _err(f"operand subscripts {s!r} name more axes than the operand's rank "
                           f"{nd}")
            s = s.replace("...", ell[n_ell - k:] if k else "")
        labels.append(s)
    if explicit:
        if out.count("...") > 1:
            raise _err("output subscripts may contain '...' only once")
        out = out.replace("...", ell)
        for c in out:
            if not c.isalpha():
                raise _err(f"invalid output subscript {c!r}")
        if len(set(out)) != len(out):
            raise _err(f"output subscripts {out!r} repeat a label")
        allin = set("".join(labels))
        for c in out:
            if c not in allin:
                raise _err(f"output label {c!r} does not appear in any input")
    else:
        counts = {}
        for s in labels:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return labels, out


def _diagonal_last(x, i, j):
    """Take the diagonal of axes i and j (equal size); the result's last axis."""
    nd = get_aval(x).ndim
    perm = [k for k in range(nd) if k not in (i, j)] + [i, j]
    x = lax.transpose(x, perm)
    sh = get_aval(x).shape
    n = sh[-1]
    x = lax.reshape(x, sh[:-2] + (n * n,))
    if n == 0:
        return lax.reshape(x, sh[:-2] + (0,))
    st = [0] * (nd - 1)
    li = list(sh[:-2]) + [n * n]
    sr = [1] * (nd - 2) + [n + 1]
    return lax.slice(x, st, li, sr)


def _unique_labels(x, lab):
    while True:
        dup = next((c for c in lab if lab.count(c) > 1), None)
        if dup is None:
            return x, lab
        i = lab.index(dup)
        j = lab.index(dup, i + 1)
        sh = get_aval(x).shape
        if sh[i] != sh[j]:
            raise _err(f"repeated label {dup!r} has sizes {sh[i]} and {sh[j]} in one operand")
        x = _diagonal_last(x, i, j)
        lab = "".join(c for k, c in enumerate(lab) if k not in (i, j)) + dup


def _sum_labels(x, lab, drop):
    axes = tuple(k for k, c in enumerate(lab) if c in drop)
    if not axes:
        return x, lab
    return lax.reduce_sum(x, axes), "".join(c for c in lab if c not in drop)


def _expand(x, lab, sizes):
    """Broadcast size-1 axes to the common label size."""
    sh = get_aval(x).shape
    target = tuple(sizes[c] for c in lab)
    if sh == target:
        return x
    squeeze = tuple(k for k, (a, b) in enumerate(zip(sh, target)) if a != b)
    y = lax.reshape(x, tuple(d for k, d in enumerate(sh) if k not in squeeze))
    dims = tuple(k for k in range(len(sh)) if k not in squeeze)
    return lax.broadcast_in_dim(y, target, dims)


def _contract(a, la, b, lb, keep):
    """Contract two operands; labels in ``keep`` survive (batch if shared)."""
    shared = [c for c in la if c in lb]
    batch = [c for c in shared if c in keep]
    contract = [c for c in shared if c not in keep]
    dn = ((tuple(la.index(c) for c in contract), tuple(lb.index(c) for c in contract)),
          (tuple(la.index(c) for c in batch), tuple(lb.index(c) for c in batch)))
    r = lax.dot_general(a, b, dn)
    lr = "".join(batch) + "".join(c for c in la if c not in shared) + \
        "".join(c for c in lb if c not in shared)
    return r, lr


def einsum(subscripts, *operands, optimize=None, precision=None):
    """Einstein summation over any number of operands.

    Implicit (``'ij,jk'``) and explicit (``'ij,jk->ik'``) outputs, ``...`` broadcasting,
    repeated labels (``'ii->i'`` diagonals, ``'ii'`` traces) and the interleaved
    ``einsum(a, [0, 1], b, [1, 2])`` form are supported.

    >>> fnp.einsum('ij,jk->ik', fnp.ones((2, 3)), fnp.ones((3, 4))).shape
    (2, 4)
    """
    if not isinstance(subscripts, str):
        subscripts, operands = _parse_interleaved((subscripts,) + tuple(operands))
    if not operands:
        raise _err("needs at least one operand")
    xs = [asarray(o, where="fnp.einsum") for o in operands]
    dt, weak = result_dtype(*xs)
    is_bool = dt == np.bool_
    cdt = np.dtype(np.int32) if is_bool else dt
    xs = [lax.convert_element_type(x, cdt, weak) if get_aval(x).dtype != cdt else x
          for x in xs]
    labels, out = _split_spec(subscripts, [get_aval(x).ndim for x in xs])

    # common sizes (size-1 axes broadcast, as in NumPy)
    sizes = {}
    for x, lab in zip(xs, labels):
        for c, d in zip(lab, get_aval(x).shape):
            if c not in sizes or sizes[c] == 1:
                sizes[c] = d
            elif d != 1 and d != sizes[c]:
                raise TypeError(f"fnp.einsum: label {c!r} has incompatible sizes {sizes[c]} "
                                f"and {d} in {subscripts!r} (operand shapes "
                                f"{[get_aval(x).shape for x in xs]})")

    ops = []
    for x, lab in zip(xs, labels):
        x, lab = _unique_labels(x, lab)
        ops.append([x, lab])

    def needed_elsewhere(skip):
        s = set(out)
        for k, (_, l) in enumerate(ops):
            if k not in skip:
                s |= set(l)
        return s

    # sum out labels private to one operand
    for k in range(len(ops)):
        x, lab = ops[k]
        need = needed_elsewhere({k})
        x, lab = _sum_labels(x, lab, {c for c in lab if c not in need})
        ops[k] = [x, lab]

    while len(ops) > 1:
        best = None
        for i in range(len(ops)):
            for j in range(i + 1, len(ops)):
                keep = needed_elsewhere({i, j})
                la, lb = ops[i][1], ops[j][1]
                res = set(la) ^ set(lb) | (set(la) & set(lb) & keep)
                cost = int(np.prod([sizes[c] for c in res], dtype=np.float64))
                if best is None or cost < best[0]:
                    best = (cost, i, j, keep)
        _, i, j, keep = best
        (a, la), (b, lb) = ops[i], ops[j]
        a, b = _expand(a, la, sizes), _expand(b, lb, sizes)
        r, lr = _contract(a, la, b, lb, keep)
        r, lr = _sum_labels(r, lr, {c for c in lr if c not in keep})
        ops = [o for k, o in enumerate(ops) if k not in (i, j)] + [[r, lr]]

    x, lab = ops[0]
    x, lab = _sum_labels(x, lab, {c for c in lab if c not in out})
    x = _expand(x, lab, sizes)
    if lab != out:
        x = lax.transpose(x, tuple(lab.index(c) for c in out))
    if is_bool:
        x = lax.ne(x, np.int32(0))
    return x
