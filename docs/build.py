#!/usr/bin/env python3
"""Build and check funcgrad's documentation (stdlib + funcgrad only, no network).

    python docs/build.py              # write docs/api.md, then check everything
    python docs/build.py --no-write   # check only (docs/api.md is left alone)
    python docs/build.py --doctest    # also run the ``>>>`` examples of every docstring
    python docs/build.py --stale      # also fail if docs/api.md differs from a fresh build
    python docs/build.py --refresh-outputs docs/PAGE.md   # re-record a page's outputs

What it does:

1. **API reference.** Imports every public module (``MODULES`` below) and writes
   ``docs/api.md`` with one entry per public name, rendered from its docstring.  The public
   names of a module are its ``__all__`` or, without one, every attribute whose name does
   not start with ``_`` (submodules excepted).  An object reachable under several names is
   documented once (under the first module listed in ``MODULES``); the other names link to
   it.  Objects that cannot hold a docstring (constants, the ``(init_fun, apply_fun)``
   pairs of parameterless layers) are documented by a ``#:`` comment on the line(s) just
   above their assignment in the library source, as Sphinx does.  NumPy objects that
   ``funcgrad.numpy`` re-exports (dtypes, ``finfo``, ``pi``...) link to NumPy's.
2. **Checks** (each problem printed on its own line; exit status 1 if there is any):

   * every public name has a docstring of its own (not an inherited one, not the
     signature that ``namedtuple``/``dataclass`` generate);
   * every name of the API contract (``../shared/tools/api_names.txt`` when present, else
     the copy in ``API_NAMES`` below) exists and is documented;
   * every relative link ``[text](path#anchor)`` in ``docs/*.md`` and ``README.md``
     points to an existing file and, with ``#anchor``, to an existing heading or
     ``<a id=...>`` in it;
   * every inline-code reference to a funcgrad name in the hand-written pages
     (``fg.grad``, ``fnp.linalg.norm``, ``lax.cond``, ``optim.adam``, ``layers.Dense``...)
     resolves, and every inline-code path to a file of the repository (``examples/cnn.py``)
     exists (files that a command generates are listed in ``GENERATED_FILES``).

The same module is used by ``tests/test_docs.py``, which also runs the code blocks of
the pages (see ``code_blocks``): a ``python`` block runs unless the line before its
opening fence is an HTML comment starting with ``<!-- skip``; a ``text`` block preceded
by ``<!-- output -->`` must match what the previous python block printed (doctest rules:
``...`` matches anything, runs of whitespace compare equal).  When a change to the library
changes what a page prints (the generated code shown in ``jaxprs_and_jit.md``, say),
``--refresh-outputs PAGE`` re-records the blocks that no longer match; review the diff.
The code of the contributor pages in ``FRAGMENT_PAGES`` is not run (it is illustrative).
"""
from __future__ import annotations

import argparse
import doctest
import importlib
import inspect
import io
import os
import re
import sys
import types
from contextlib import redirect_stdout
from dataclasses import dataclass, field

DOCS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(DOCS)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

# ----------------------------------------------------------------------------- configuration

#: (module, short name used in the docs) in documentation order; the first module that
#: exposes an object owns its entry.  Modules that need an optional dependency
#: (``strategies`` needs hypothesis) are skipped with a note when it is missing.
MODULES = [
    ("funcgrad", "fg"),
    ("funcgrad.numpy", "fnp"),
    ("funcgrad.numpy.linalg", "fnp.linalg"),
    ("funcgrad.lax", "lax"),
    ("funcgrad.random", "random"),
    ("funcgrad.tree", "fg.tree"),
    ("funcgrad.tree_util", "fg.tree_util"),
    ("funcgrad.nn", "nn"),
    ("funcgrad.nn.initializers", "nn.initializers"),
    ("funcgrad.layers", "layers"),
    ("funcgrad.losses", "losses"),
    ("funcgrad.optim", "optim"),
    ("funcgrad.optim.schedules", "optim.schedules"),
    ("funcgrad.checkpoints", "fg.checkpoints"),
    ("funcgrad.test_util", "test_util"),
    ("funcgrad.test_util.strategies", "strategies"),
    ("funcgrad.compiler", "compiler"),
    ("funcgrad.compiler.passes", "compiler.passes"),
    ("funcgrad.compiler.runtime", "compiler.runtime"),
]

#: prefixes that inline-code references in the pages may use, and what they stand for
ALIASES = {
    "funcgrad": "funcgrad", "fg": "funcgrad", "fnp": "funcgrad.numpy", "lax": "funcgrad.lax",
    "random": "funcgrad.random", "nn": "funcgrad.nn", "layers": "funcgrad.layers",
    "losses": "funcgrad.losses", "optim": "funcgrad.optim", "tree": "funcgrad.tree",
    "test_util": "funcgrad.test_util", "strategies": "funcgrad.test_util.strategies",
    "fst": "funcgrad.test_util.strategies", "compiler": "funcgrad.compiler",
    "passes": "funcgrad.compiler.passes", "runtime": "funcgrad.compiler.runtime",
}

#: files that a command writes (they may be referenced before they exist)
GENERATED_FILES = {
    "benchmarks/RESULTS.md": "python -m benchmarks.run",
    "docs/api.md": "python docs/build.py",
}

#: documentation of NumPy constants re-exported by ``funcgrad.numpy`` (they hold no
#: docstring of their own and live in no funcgrad source file)
NUMPY_CONSTANTS = {
    "pi": "The constant π (``numpy.pi``), a Python float.",
    "e": "Euler's number (``numpy.e``), a Python float.",
    "inf": "Positive infinity (``numpy.inf``), a Python float.",
    "nan": "Not a number (``numpy.nan``), a Python float.",
    "newaxis": "``None``: ``x[:, fnp.newaxis]`` inserts an axis of length 1 "
               "(``numpy.newaxis``).",
}

#: the names of API.md (a copy of ../shared/tools/api_names.txt, used when that file is
#: not there, e.g. in a clone of this repository alone)
API_NAMES = """
funcgrad: jit grad value_and_grad vjp jvp linearize jacfwd jacrev hessian vmap make_jaxpr custom_jvp custom_vjp checkpoint remat stop_gradient Array device_put devices default_backend config save load
funcgrad.numpy: array asarray zeros ones full zeros_like ones_like full_like arange linspace eye identity meshgrid
funcgrad.numpy: abs absolute negative positive sign floor ceil round rint trunc exp exp2 expm1 log log2 log10 log1p sqrt cbrt square reciprocal sin cos tan arcsin arccos arctan arctan2 sinh cosh tanh arcsinh arccosh arctanh power float_power add subtract multiply divide true_divide floor_divide mod remainder maximum minimum fmax fmin hypot logaddexp clip where isnan isinf isfinite equal not_equal less less_equal greater greater_equal logical_and logical_or logical_not logical_xor
funcgrad.numpy: sum mean var std max min amax amin prod argmax argmin all any cumsum cumprod
funcgrad.numpy: reshape ravel transpose moveaxis swapaxes squeeze expand_dims broadcast_to concatenate stack hstack vstack split tile repeat flip roll pad
funcgrad.numpy: take take_along_axis dot matmul tensordot einsum outer inner sort argsort
funcgrad.numpy.linalg: norm inv solve det slogdet cholesky qr svd eigh
funcgrad.lax: add sub mul div neg max min exp log tanh logistic convert_element_type broadcast_in_dim reshape transpose slice pad concatenate gather scatter_add iota sort
funcgrad.lax: cond switch while_loop fori_loop scan map select dot_general conv_general_dilated reduce_window dynamic_slice dynamic_update_slice psum pmean pmax all_gather stop_gradient
funcgrad.random: key PRNGKey split fold_in bits uniform normal truncated_normal bernoulli categorical randint permutation choice
funcgrad.tree: map flatten unflatten leaves structure transpose register_pytree_node register_dataclass tree_map tree_flatten tree_unflatten tree_leaves
funcgrad.tree_util: tree_map tree_flatten tree_unflatten tree_leaves register_pytree_node
funcgrad.nn: relu sigmoid tanh softmax log_softmax logsumexp gelu silu elu leaky_relu softplus one_hot
funcgrad.nn.initializers: zeros ones normal uniform glorot_uniform glorot_normal he_uniform he_normal lecun_normal orthogonal
funcgrad.layers: serial parallel FanOut FanInSum FanInConcat Dense Conv Conv1D ConvTranspose MaxPool AvgPool Flatten Reshape Dropout BatchNorm LayerNorm Embedding SimpleRNN LSTM GRU Identity Relu Tanh Sigmoid Softmax LogSoftmax Gelu summary
funcgrad.losses: mean_squared_error mean_absolute_error huber_loss binary_cross_entropy sigmoid_binary_cross_entropy softmax_cross_entropy softmax_cross_entropy_with_integer_labels l1_penalty l2_penalty
funcgrad.optim: GradientTransformation apply_updates chain sgd adagrad adadelta rmsprop adam adamw adamax nadam lamb lion scale scale_by_adam scale_by_rms scale_by_schedule clip clip_by_global_norm add_decayed_weights masked multi_transform inject_hyperparams apply_every constant_schedule exponential_decay piecewise_constant_schedule linear_schedule cosine_decay_schedule warmup_cosine_decay_schedule join_schedules
funcgrad.test_util: check_grads strategies
"""

# ----------------------------------------------------------------------------- model


@dataclass
class Entry:
    """One documented public name."""
    module: str                 # "funcgrad.numpy"
    name: str                   # "sum"
    obj: object
    kind: str = ""              # function, class, constant, numpy, primitive, layer, module...
    doc: str | None = None      # the docstring (None: missing)
    canonical: "Entry | None" = None   # set on aliases
    signature: str = ""

    @property
    def qualname(self):
        return f"{self.module}.{self.name}"

    @property
    def anchor(self):
        return self.qualname


@dataclass
class Reference:
    """Everything the build learned; ``problems`` is what the checks found."""
    modules: list = field(default_factory=list)        # [(module name, short, module, [Entry])]
    by_name: dict = field(default_factory=dict)        # qualname -> Entry
    problems: list = field(default_factory=list)       # "kind: detail"
    notes: list = field(default_factory=list)


def short_of(module):
    return dict(MODULES).get(module, module)


def display_name(entry):
    return f"{short_of(entry.module)}.{entry.name}"


# ----------------------------------------------------------------------------- introspection

_ADDR = re.compile(r" at 0x[0-9a-fA-F]+")


def _default_repr(v):
    if isinstance(v, (types.FunctionType, types.BuiltinFunctionType, type)):
        return getattr(v, "__qualname__", None) or getattr(v, "__name__", repr(v))
    r = _ADDR.sub("", repr(v))
    return r


def format_signature(obj):
    """``(a, b=1, *, c=None)`` without annotations; '' when there is none."""
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return ""
    parts, star_done = [], False
    for p in sig.parameters.values():
        if p.kind is p.VAR_POSITIONAL:
            parts.append("*" + p.name)
            star_done = True
            continue
        if p.kind is p.VAR_KEYWORD:
            parts.append("**" + p.name)
            continue
        if p.kind is p.KEYWORD_ONLY and not star_done:
            parts.append("*")
            star_done = True
        s = p.name
        if p.default is not p.empty:
            s += "=" + _default_repr(p.default)
        parts.append(s)
        if p.kind is p.POSITIONAL_ONLY:
            nxt = list(sig.parameters.values())
            i = nxt.index(p)
            if i + 1 == len(nxt) or nxt[i + 1].kind is not p.POSITIONAL_ONLY:
                parts.append("/")
    return "(" + ", ".join(parts) + ")"


def _is_funcgrad(obj):
    mod = getattr(obj, "__module__", None) or ""
    return mod == "funcgrad" or mod.startswith("funcgrad.")


def _auto_class_doc(cls, doc):
    """True for the docstrings that namedtuple/dataclass generate from the fields."""
    if not doc:
        return True
    first = doc.strip()
    return "\n" not in first and first.startswith(cls.__name__ + "(") and first.endswith(")")


_comment_cache = {}


def comment_doc(module_name, name):
    """The ``#:`` comment block just above ``name = ...`` in ``module_name``'s source."""
    if module_name not in _comment_cache:
        try:
            src = inspect.getsource(importlib.import_module(module_name))
        except (OSError, TypeError):
            src = ""
        _comment_cache[module_name] = src.splitlines()
    lines = _comment_cache[module_name]
    pat = re.compile(rf"^{re.escape(name)}\s*(:[^=]*)?=")
    for i, line in enumerate(lines):
        if pat.match(line):
            j, got = i - 1, []
            while j >= 0 and lines[j].lstrip().startswith("#:"):
                got.append(lines[j].lstrip()[2:].strip())
                j -= 1
            if got:
                return "\n".join(reversed(got))
    return None


def _is_layer_pair(obj):
    return (isinstance(obj, tuple) and len(obj) == 2 and callable(obj[0]) and callable(obj[1])
            and hasattr(obj[0], "layer_name"))


def describe(module_name, name, obj):
    """(kind, docstring or None, signature) of a public object."""
    if isinstance(obj, types.ModuleType):
        return "module", inspect.getdoc(obj), ""
    if module_name == "funcgrad.numpy" and name in NUMPY_CONSTANTS:
        return "constant", NUMPY_CONSTANTS[name], ""
    if not _is_funcgrad(obj) and (callable(obj) or isinstance(obj, type)) or (
            type(obj).__module__.startswith("numpy") and not _is_funcgrad(obj)):
        # a NumPy object re-exported as is (dtypes, finfo, result_type ...)
        return "numpy", None, ""
    if isinstance(obj, type):
        doc = obj.__dict__.get("__doc__")
        if _auto_class_doc(obj, doc):
            doc = None
        return "class", inspect.cleandoc(doc) if doc else None, format_signature(obj)
    if isinstance(obj, (types.FunctionType, types.BuiltinFunctionType, types.MethodType)) or (
            callable(obj) and hasattr(obj, "__wrapped__")):
        doc = obj.__doc__
        return "function", inspect.cleandoc(doc) if doc else None, format_signature(obj)
    if type(obj).__name__ == "Primitive":
        return "primitive", (f"The primitive ``{obj.name}`` (a ``Primitive`` object: its "
                             "rules are described in ``docs/internals.md``)."), ""
    if _is_layer_pair(obj):
        doc = comment_doc(module_name, name) or obj[0].__doc__
        return "layer", inspect.cleandoc(doc) if doc else None, ""
    comment = comment_doc(module_name, name)
    if comment:
        return "constant", comment, ""
    tdoc = type(obj).__dict__.get("__doc__")
    if _is_funcgrad(type(obj)) and tdoc:
        sig = format_signature(obj) if callable(obj) else ""
        doc = inspect.cleandoc(tdoc)
        home = type(obj).__module__
        if home not in dict(MODULES):      # an internal module: its docstring explains it
            mdoc = inspect.getdoc(sys.modules.get(home))
            if mdoc:
                doc += "\n\n" + mdoc
        return "object", doc, sig
    return "constant", None, ""


def public_names(module):
    names = getattr(module, "__all__", None)
    if names is None:
        names = [n for n in vars(module) if not n.startswith("_")]
    out = []
    for n in names:
        if not hasattr(module, n):
            continue
        obj = getattr(module, n)
        if isinstance(obj, types.ModuleType):
            continue          # submodules are documented as modules of their own (or not)
        if isinstance(obj, (types.FunctionType, type)) and getattr(obj, "__module__", "") == \
                "__future__":
            continue
        if n == "annotations" and type(obj).__name__ == "_Feature":
            continue          # ``from __future__ import annotations`` leaks into vars()
        out.append(n)
    return sorted(out, key=lambda s: (s.lower(), s))


def load_api_names():
    path = os.path.join(os.path.dirname(ROOT), "shared", "tools", "api_names.txt")
    text = API_NAMES
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            text = f.read()
    out = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        mod, _, names = line.partition(":")
        out.extend(f"{mod.strip()}.{n}" for n in names.split())
    return out


def collect() -> Reference:
    """Import the public modules and build one ``Entry`` per public name."""
    ref = Reference()
    owner = {}            # id(obj) -> canonical Entry
    for mod_name, short in MODULES:
        try:
            module = importlib.import_module(mod_name)
        except ImportError as e:
            ref.notes.append(f"{mod_name} not documented: {e}")
            continue
        entries = []
        names = public_names(module)
        # within a module, the name an object was defined under owns it (``tree_map``
        # rather than its alias ``map``); documentation order stays alphabetical
        own_first = sorted(names, key=lambda n: getattr(getattr(module, n), "__name__",
                                                        None) != n)
        order = {n: i for i, n in enumerate(names)}
        for name in own_first:
            obj = getattr(module, name)
            kind, doc, sig = describe(mod_name, name, obj)
            e = Entry(mod_name, name, obj, kind, doc, signature=sig)
            shareable = kind in ("function", "class", "layer", "object", "primitive") or (
                kind == "numpy" and callable(obj))
            if shareable and id(obj) in owner:
                e.canonical = owner[id(obj)]
            elif shareable:
                owner[id(obj)] = e
            entries.append(e)
            ref.by_name[e.qualname] = e
        entries.sort(key=lambda e: order[e.name])
        ref.modules.append((mod_name, short, module, entries))
    # checks: docstrings
    for _, _, _, entries in ref.modules:
        for e in entries:
            if e.canonical is None and e.kind not in ("numpy", "module") and not e.doc:
                what = {"constant": " (add a `#:` comment above its assignment)",
                        "layer": " (a layer pair: add a `#:` comment above its assignment)",
                        "class": " (none, or only the generated field list)"}.get(e.kind, "")
                ref.problems.append(f"missing docstring: {e.qualname}{what}")
    # checks: the API contract
    for q in load_api_names():
        mod, _, name = q.rpartition(".")
        e = ref.by_name.get(q)
        if e is None:
            try:
                module = importlib.import_module(mod)
                sub = importlib.import_module(q) if not hasattr(module, name) else \
                    getattr(module, name)
            except ImportError:
                sub = None
            if isinstance(sub, types.ModuleType) and any(m == q for m, _ in MODULES):
                if not any(m == q for m, _, _, _ in ref.modules):
                    ref.problems.append(f"missing API module: {q} (could not be imported)")
                continue
            ref.problems.append(f"missing API name: {q} (not found in {mod})")
    return ref


def api_coverage(ref):
    """``{api name: problem or None}`` for every name of the API contract."""
    out = {}
    for q in load_api_names():
        e = ref.by_name.get(q)
        if e is None:
            documented_module = any(m == q for m, _, _, _ in ref.modules)
            out[q] = None if documented_module else "not found"
            continue
        target = e.canonical or e
        out[q] = None if (target.doc or target.kind == "numpy") else "no docstring"
    return out


# ----------------------------------------------------------------------------- rendering

_DOUBLE_TICKS = re.compile(r"``(.+?)``")
_RST_BORDER = re.compile(r"^=+( +=+)+$")
_COLUMNS = re.compile(r"^\S.*?\S {3,}\S")
_COLUMNS_CONT = re.compile(r"^\S+ {2,}\S")
_ROLE = re.compile(r":(?:func|class|meth|mod|attr|data|obj):`~?([^`]+)`")


def _escape_text(line):
    """Markdown-escape prose outside code spans (``<`` would start HTML)."""
    parts = re.split(r"(`[^`]*`)", line)
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
        parts[i] = parts[i].replace("_", r"\_") if re.search(r"\b_|_\b", parts[i]) and \
            "__" in parts[i] else parts[i]
    return "".join(parts)


def _prose(text):
    """Markdown for a paragraph of docstring prose (code spans may span lines)."""
    text = _ROLE.sub(r"`\1`", text)
    text = re.sub(r"``(.+?)``", r"`\1`", text, flags=re.S)
    parts = re.split(r"(`[^`]*`)", text)
    for k in range(0, len(parts), 2):
        parts[k] = parts[k].replace("<", "&lt;").replace(">", "&gt;")
    out = []
    for line in "".join(parts).split("\n"):
        lead = len(line) - len(line.lstrip())
        if lead >= 4 and not re.match(r"\s*([-*]|\d+\.)\s", line):
            line = "  " + line.lstrip()     # no accidental indented code blocks
        out.append(line)
    return out


def docstring_to_markdown(doc):
    """Turn an RST-flavoured docstring into Markdown: ````x```` -> `x`, ``>>>`` examples
    and ``::`` literal blocks -> fenced code, ``Section\\n-----`` -> bold, simple tables
    and aligned columns -> preformatted text."""
    lines = doc.splitlines()
    out, para, i = [], [], 0

    def flush():
        if para:
            out.extend(_prose("\n".join(para)))
            para.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            flush()
            out.append("")
            i += 1
            continue
        if stripped.startswith("```"):
            flush()
            out.append(stripped)
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                out.append(lines[i])
                i += 1
            if i < len(lines):
                out.append(lines[i].strip())
                i += 1
            continue
        if _RST_BORDER.match(stripped):
            # an RST simple table: keep it as preformatted text, up to its closing border
            flush()
            block, borders = [], 0
            while i < len(lines) and (lines[i].strip() or borders < 3):
                if _RST_BORDER.match(lines[i].strip()):
                    borders += 1
                block.append(_DOUBLE_TICKS.sub(lambda m: m.group(1) + "    ",
                                               lines[i]).rstrip())
                i += 1
                if borders == 3:
                    break
            out += ["```text", *block, "```"]
            continue
        if _COLUMNS.match(line) and i + 1 < len(lines) and _COLUMNS.match(lines[i + 1]):
            # aligned columns ("name    description" lines): preformatted text
            flush()
            block = []
            while i < len(lines) and (_COLUMNS.match(lines[i]) or
                                      _COLUMNS_CONT.match(lines[i])):
                block.append(_DOUBLE_TICKS.sub(r"\1", lines[i]).rstrip())
                i += 1
            out += ["```text", *block, "```"]
            continue
        if stripped.startswith(">>>"):
            flush()
            indent = len(line) - len(line.lstrip())
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i][indent:] if lines[i][:indent].strip() == "" else
                             lines[i].strip())
                i += 1
            out += ["```pycon", *block, "```"]
            continue
        if (not para and i + 1 < len(lines) and set(lines[i + 1].strip()) <= set("-=~")
                and len(lines[i + 1].strip()) >= max(3, len(stripped) - 1)):
            flush()
            out += ["**" + _DOUBLE_TICKS.sub(r"`\1`", stripped) + "**", ""]
            i += 2
            continue
        if stripped.endswith("::") and not stripped.startswith(".."):
            para.append(line.rstrip()[:-1] if stripped != "::" else "")
            flush()
            i += 1
            while i < len(lines) and not lines[i].strip():
                i += 1
            base = len(line) - len(line.lstrip())
            block = []
            while i < len(lines) and (not lines[i].strip() or
                                      len(lines[i]) - len(lines[i].lstrip()) > base):
                block.append(lines[i])
                i += 1
            while block and not block[-1].strip():
                block.pop()
            if block:
                dedent = min(len(b) - len(b.lstrip()) for b in block if b.strip())
                out += ["", "```text", *[b[dedent:] for b in block], "```", ""]
            continue
        para.append(line)
        i += 1
    flush()
    text = "\n".join(out).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def first_line(doc):
    if not doc:
        return ""
    para = []
    for line in doc.strip().splitlines():
        if not line.strip() or line.strip().startswith(">>>"):
            break
        para.append(line.strip())
    s = _DOUBLE_TICKS.sub(r"`\1`", _ROLE.sub(r"`\1`", " ".join(para)))
    m = re.match(r"(.+?[.!?])(\s|$)", s)
    s = m.group(1) if m and len(m.group(1)) > 20 and m.group(1).count("`") % 2 == 0 else s
    if len(s) > 160:
        s = s[:157].rsplit(" ", 1)[0]
        if s.count("`") % 2:
            s += "`"
        s += " ..."
    return _escape_text(s).replace("|", r"\|")


def _numpy_target(module_name, name, obj):
    nm = getattr(obj, "__name__", None) or name
    return f"NumPy's `numpy.{nm}`, re-exported unchanged."


def _member_lines(entry):
    """Public methods and properties of a funcgrad class, with their first lines."""
    cls = entry.obj if isinstance(entry.obj, type) else type(entry.obj)
    rows = []
    for n, v in sorted(vars(cls).items()):
        if n.startswith("_"):
            continue
        if isinstance(v, property):
            doc = v.fget.__doc__ if v.fget else None
            rows.append((f"`.{n}`", first_line(inspect.cleandoc(doc)) if doc else ""))
        elif isinstance(v, (types.FunctionType, staticmethod, classmethod)):
            f = v.__func__ if isinstance(v, (staticmethod, classmethod)) else v
            sig = format_signature(f)
            if not isinstance(v, staticmethod):
                sig = re.sub(r"^\((self|cls)(, )?", "(", sig)
            doc = f.__doc__
            rows.append((f"`.{n}{sig}`", first_line(inspect.cleandoc(doc)) if doc else ""))
    return rows


def render(ref) -> str:
    out = ["# API reference", "",
           "<!-- Generated by docs/build.py from the docstrings: do not edit by hand; run "
           "`python docs/build.py` instead. -->", "",
           "Every public name of funcgrad, rendered from its docstring.  The examples use",
           "the usual imports:", "", "```python",
           "import funcgrad as fg",
           "import funcgrad.numpy as fnp",
           "from funcgrad import lax, random, nn, layers, losses, optim",
           "```", "",
           "An object that is reachable under several names (`fg.stop_gradient` and",
           "`lax.stop_gradient`, `fg.tree.map` and `fg.tree.tree_map` ...) is documented "
           "once;", "its other names link there.  For explanations and examples see the "
           "[documentation index](index.md).", "", "## Modules", ""]
    for mod_name, short, module, entries in ref.modules:
        out.append(f"* [`{mod_name}`](#{mod_name}) (`{short}`): "
                   f"{first_line(inspect.getdoc(module) or '')} ({len(entries)} names)")
    for note in ref.notes:
        out.append(f"* _{note}_")
    out.append("")
    for mod_name, short, module, entries in ref.modules:
        out += [f'<a id="{mod_name}"></a>', "", f"## `{mod_name}`", ""]
        mdoc = inspect.getdoc(module)
        if mdoc:
            out += [docstring_to_markdown(mdoc), ""]
        subs = [(m, s) for m, s, _, _ in ref.modules
                if m.startswith(mod_name + ".") and "." not in m[len(mod_name) + 1:]]
        if subs:
            out += ["Submodules: " + ", ".join(f"[`{s}`](#{m})" for m, s in subs) + ".", ""]
        if not entries:
            continue
        out += ["| name | summary |", "|---|---|"]
        for e in entries:
            target = e.canonical or e
            if e.canonical is not None:
                summ = f"alias of [`{display_name(target)}`](#{target.anchor})"
            elif e.kind == "numpy":
                summ = _numpy_target(mod_name, e.name, e.obj)
            else:
                summ = first_line(e.doc) or "_(no docstring)_"
            out.append(f"| [`{e.name}`](#{e.anchor}) | {summ} |")
        out.append("")
        for e in entries:
            out += [f'<a id="{e.anchor}"></a>', ""]
            title = f"{display_name(e)}{e.signature if e.canonical is None else ''}"
            out += [f"### `{title}`", ""]
            if e.canonical is not None:
                out += [f"Alias of [`{display_name(e.canonical)}`](#{e.canonical.anchor}).", ""]
                continue
            if e.kind == "numpy":
                out += [_numpy_target(mod_name, e.name, e.obj), ""]
                continue
            if e.kind == "constant" and not callable(e.obj):
                out += [f"Value: `{_ADDR.sub('', repr(e.obj))}`" if len(repr(e.obj)) < 80
                        else f"A `{type(e.obj).__name__}`.", ""]
            if e.kind == "layer":
                out += ["A parameterless layer: the pair `(init_fun, apply_fun)`.", ""]
            out += [docstring_to_markdown(e.doc) if e.doc else "_(no docstring)_", ""]
            if e.kind in ("class", "object") and _is_funcgrad(e.obj if e.kind == "class"
                                                            else type(e.obj)):
                rows = _member_lines(e)
                if rows:
                    out += ["| member | summary |", "|---|---|"]
                    out += [f"| {a} | {b} |" for a, b in rows]
                    out.append("")
    return "\n".join(out).rstrip() + "\n"


# ----------------------------------------------------------------------------- page checks

def pages():
    """The hand-written pages: docs/*.md (api.md excepted) and README.md."""
    out = [os.path.join(DOCS, f) for f in sorted(os.listdir(DOCS))
           if f.endswith(".md") and f != "api.md"]
    readme = os.path.join(ROOT, "README.md")
    if os.path.exists(readme):
        out.append(readme)
    return out


def _strip_code(text):
    """Text with fenced blocks and inline code blanked out (line numbers kept)."""
    lines, out, fence = text.splitlines(), [], None
    for line in lines:
        m = re.match(r"\s*(`{3,}|~{3,})", line)
        if fence is None and m:
            fence = m.group(1)
            out.append("")
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            out.append("")
            continue
        out.append(re.sub(r"`[^`]*`", "``", line))
    return out


def slugify(heading):
    """GitHub's heading anchor."""
    s = heading.strip().lower()
    s = re.sub(r"<[^>]+>", "", s)
    s = re.sub(r"[^\w\- ]", "", s)
    return s.replace(" ", "-")


_anchor_cache = {}


def anchors_of(path):
    if path in _anchor_cache:
        return _anchor_cache[path]
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found, counts = set(), {}
    fence = None
    for line in text.splitlines():
        m = re.match(r"\s*(`{3,}|~{3,})", line)
        if fence is None and m:
            fence = m.group(1)
            continue
        if fence is not None:
            if line.strip().startswith(fence):
                fence = None
            continue
        for a in re.findall(r'<a\s+(?:id|name)="([^"]+)"', line):
            found.add(a)
        h = re.match(r"#{1,6}\s+(.*)", line)
        if h:
            slug = slugify(h.group(1))
            n = counts.get(slug, 0)
            counts[slug] = n + 1
            found.add(slug if n == 0 else f"{slug}-{n}")
    _anchor_cache[path] = found
    return found


_LINK = re.compile(r"(?<!!)\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def check_links(paths, ref=None):
    """Problems with relative links in the given Markdown files."""
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            lines = _strip_code(f.read())
        rel = os.path.relpath(path, ROOT)
        for n, line in enumerate(lines, 1):
            for text, target in _LINK.findall(line):
                if re.match(r"[a-z]+:", target):
                    continue          # http:, https:, mailto: (never fetched)
                file_part, _, anchor = target.partition("#")
                dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
                    if file_part else path
                if not os.path.exists(dest):
                    problems.append(f"missing reference: {rel}:{n}: [{text}]({target}): "
                                    f"no file {os.path.relpath(dest, ROOT)}")
                    continue
                if anchor and dest.endswith(".md") and anchor not in anchors_of(dest):
                    problems.append(f"missing reference: {rel}:{n}: [{text}]({target}): "
                                    f"no anchor #{anchor} in {os.path.relpath(dest, ROOT)}")
    return problems


_CODE_SPAN = re.compile(r"(?<!`)`([^`\n]+)`(?!`)")
_DOTTED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)((?:\.[A-Za-z_]\w*)+)")
_PATH = re.compile(r"^(?:\.\./)?((?:docs|examples|benchmarks|funcgrad|tests|\.ci)/[\w./*-]+"
                   r"|[\w-]+\.(?:md|toml|py))$")


def resolve(dotted):
    """Resolve ``fg.tree.map`` style names; returns (ok, what failed)."""
    head, *rest = dotted.split(".")
    mod_name = ALIASES[head]
    try:
        obj = importlib.import_module(mod_name)
    except ImportError as e:
        return False, str(e)
    path = mod_name
    for part in rest:
        path += "." + part
        if hasattr(obj, part):
            obj = getattr(obj, part)
            continue
        if isinstance(obj, types.ModuleType):
            try:
                obj = importlib.import_module(path)
                continue
            except ImportError:
                pass
        return False, f"{path} does not exist"
    return True, ""


def check_code_references(paths):
    """Inline-code names (``fg.grad``) and repository paths (``examples/cnn.py``)."""
    problems = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        rel = os.path.relpath(path, ROOT)
        fence = None
        for n, line in enumerate(text.splitlines(), 1):
            m = re.match(r"\s*(`{3,}|~{3,})", line)
            if fence is None and m:
                fence = m.group(1)
                continue
            if fence is not None:
                if line.strip().startswith(fence):
                    fence = None
                continue
            for span in _CODE_SPAN.findall(line):
                span = span.strip()
                pm = _PATH.match(span)
                if pm and "/" in span:
                    p = pm.group(1)
                    if p in GENERATED_FILES or "*" in p:
                        continue
                    if not os.path.exists(os.path.join(ROOT, p)):
                        problems.append(f"missing reference: {rel}:{n}: `{span}`: no such file")
                    continue
                for dm in _DOTTED.finditer(span):
                    head, tail = dm.group(1), dm.group(2)
                    if head not in ALIASES:
                        continue
                    # ``x.at[i].set`` style chains end at the first call / index
                    ok, why = resolve(head + tail)
                    if not ok:
                        problems.append(f"missing reference: {rel}:{n}: `{span}`: {why}")
    return problems


# ----------------------------------------------------------------------------- code blocks

@dataclass
class Block:
    path: str
    line: int            # line of the opening fence (1-based)
    lang: str
    code: str
    skip: bool = False
    expected_output: str | None = None     # for python blocks followed by an output block
    output_span: tuple | None = None       # (first, end) 0-based line indices of its body


def code_blocks(path):
    """The fenced blocks of a page; ``output`` text blocks are attached to the python
    block before them."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    blocks, i, prev_comment = [], 0, ""
    while i < len(lines):
        line = lines[i]
        m = re.match(r"\s*(`{3,}|~{3,})\s*([\w+-]*)", line)
        if not m:
            if line.strip():
                prev_comment = line.strip() if line.strip().startswith("<!--") else ""
            i += 1
            continue
        fence, lang, start = m.group(1), m.group(2).lower(), i + 1
        body = []
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(fence):
            body.append(lines[i])
            i += 1
        i += 1
        indent = min((len(b) - len(b.lstrip()) for b in body if b.strip()), default=0)
        code = "\n".join(b[indent:] for b in body) + "\n"
        if prev_comment.startswith("<!-- output") and blocks and blocks[-1].lang == "python":
            blocks[-1].expected_output = code
            blocks[-1].output_span = (start, start + len(body))
        else:
            blocks.append(Block(path, start, lang, code, skip=prev_comment.startswith(
                "<!-- skip")))
        prev_comment = ""
    return blocks


_CHECKER = doctest.OutputChecker()
_FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
_NUMBER = re.compile(r"(?<![\w.])[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w.])"
                     r"|\bnan\b|\binf\b")


class _NumericChecker(doctest.OutputChecker):
    """Doctest output check that also accepts float results differing in the last digits
    (rtol 1e-5): NumPy's vectorised sin/exp/... may round differently on other CPUs."""

    def check_output(self, want, got, optionflags):
        if super().check_output(want, got, optionflags):
            return True
        wn, gn = _NUMBER.findall(want), _NUMBER.findall(got)
        if len(wn) != len(gn) or ("".join(_NUMBER.sub("#", want).split())
                                  != "".join(_NUMBER.sub("#", got).split())):
            return False
        for a, b in zip(wn, gn):
            fa, fb = float(a), float(b)
            if fa != fb and not (fa != fa and fb != fb) and not (
                    abs(fa - fb) <= 1e-6 + 1e-5 * abs(fb)):
                return False
        return True


def output_matches(want, got):
    return _CHECKER.check_output(want.strip() + "\n", got.strip() + "\n", _FLAGS)


#: contributor pages whose code blocks are illustrative fragments: they are link-checked
#: but not run (mark a block ``<!-- skip: ... -->`` there and list the page no more)
FRAGMENT_PAGES = ("internals.md", "testing.md")


def runnable(path):
    return os.path.basename(path) not in FRAGMENT_PAGES


def run_page(path, namespace=None, outputs=None):
    """Run a page's python blocks in order in one namespace; returns a list of failures
    ``(block, message)``.  ``outputs``, a dict, receives ``{block: printed text}``."""
    ns = {"__name__": "__docs__"} if namespace is None else namespace
    failures = []
    if not runnable(path):
        return failures
    for b in code_blocks(path):
        if b.lang not in ("python", "py") or b.skip:
            continue
        buf = io.StringIO()
        try:
            code = compile(b.code, f"{os.path.relpath(path, ROOT)}:{b.line}", "exec")
            with redirect_stdout(buf):
                exec(code, ns)
        except Exception as e:  # noqa: BLE001 - reported
            failures.append((b, f"{type(e).__name__}: {e}\n--- output so far:\n{buf.getvalue()}"))
            break      # later blocks depend on this one
        if outputs is not None:
            outputs[b.line] = (b, buf.getvalue())
        if b.expected_output is not None and not output_matches(b.expected_output,
                                                                buf.getvalue()):
            failures.append((b, "printed output differs from the page (if the new output is "
                             "right, run: python docs/build.py --refresh-outputs "
                             f"{os.path.relpath(path, ROOT)}).\n--- page:\n"
                             f"{b.expected_output}--- got:\n{buf.getvalue()}"))
    return failures


def refresh_outputs(path):
    """Rewrite the ``<!-- output -->`` blocks of a page whose text no longer matches what
    the code prints (blocks that still match, ``...`` and all, are kept).  Returns the
    number of blocks rewritten; review the diff before committing it."""
    import tempfile
    outputs = {}
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        try:
            failures = run_page(path, outputs=outputs)
        finally:
            os.chdir(cwd)
    errors = [f for f in failures if not f[1].startswith("printed output differs")]
    if errors:
        b, msg = errors[0]
        raise RuntimeError(f"{os.path.relpath(path, ROOT)}:{b.line}: {msg}")
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    changed = 0
    for _, (b, got) in sorted(outputs.items(), reverse=True):
        if b.expected_output is None or output_matches(b.expected_output, got):
            continue
        first, end = b.output_span
        lines[first:end] = got.rstrip("\n").split("\n")
        changed += 1
    if changed:
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
    return changed


# ----------------------------------------------------------------------------- doctests

def run_docstring_examples(ref):
    """Run the ``>>>`` examples of every canonical docstring; returns problems."""
    import dataclasses
    import numpy as np
    import funcgrad as fg
    problems = []
    for mod_name, _, module, entries in ref.modules:
        for e in entries:
            if e.canonical is not None or not e.doc or ">>>" not in e.doc:
                continue
            globs = dict(vars(module))
            globs.update({"fg": fg, "funcgrad": fg, "np": np, "fnp": fg.numpy,
                          "lax": fg.lax, "random": fg.random, "nn": fg.nn,
                          "initializers": fg.nn.initializers, "dataclasses": dataclasses,
                          "vmap": fg.vmap, "grad": fg.grad, "jit": fg.jit})
            for extra in ("layers", "losses", "optim"):
                if hasattr(fg, extra):
                    globs[extra] = getattr(fg, extra)
            test = doctest.DocTestParser().get_doctest(e.doc, globs, e.qualname, None, 0)
            runner = doctest.DocTestRunner(checker=_NumericChecker(), optionflags=_FLAGS)
            buf = io.StringIO()
            runner.run(test, out=buf.write)
            res = runner.summarize(verbose=False)
            if res.failed:
                first = buf.getvalue().strip().splitlines()
                detail = " | ".join(x.strip() for x in first[:12] if x.strip() and
                                    not x.startswith("*****"))
                problems.append(f"docstring example fails: {e.qualname}: {detail[:400]}")
    return problems


# ----------------------------------------------------------------------------- main

def check(ref=None, write=None):
    """All checks; returns the list of problems (``write``: path for api.md or None)."""
    ref = ref or collect()
    text = render(ref)
    if write:
        with open(write, "w", encoding="utf-8") as f:
            f.write(text)
    problems = list(ref.problems)
    paths = pages() + ([write] if write else [])
    problems += check_links(paths)
    problems += check_code_references(pages())
    return problems, text


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-write", action="store_true", help="do not write docs/api.md")
    ap.add_argument("--doctest", action="store_true",
                    help="also run the >>> examples of every docstring")
    ap.add_argument("--stale", action="store_true",
                    help="fail if docs/api.md differs from a fresh build")
    ap.add_argument("--refresh-outputs", nargs="+", metavar="PAGE",
                    help="rewrite the output blocks of these pages that no longer match what "
                         "their code prints, then exit")
    args = ap.parse_args(argv)
    if args.refresh_outputs:
        for page in args.refresh_outputs:
            print(f"{page}: {refresh_outputs(os.path.abspath(page))} output block(s) rewritten")
        return 0
    api_path = os.path.join(DOCS, "api.md")
    old = open(api_path, encoding="utf-8").read() if os.path.exists(api_path) else None
    ref = collect()
    problems, text = check(ref, None if args.no_write else api_path)
    if args.stale and old != text:
        problems.append("stale: docs/api.md differs from the docstrings (run "
                        "python docs/build.py)")
    if args.doctest:
        problems += run_docstring_examples(ref)
    n_names = sum(len(e) for _, _, _, e in ref.modules)
    for note in ref.notes:
        print("note:", note)
    for p in problems:
        print(p)
    where = "written to docs/api.md" if not args.no_write else "not written (--no-write)"
    print(f"API reference: {len(ref.modules)} modules, {n_names} names, {where}; "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
