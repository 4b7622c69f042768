"""``Primitive``: a named operation and its rule table.

Each primitive carries one rule per interpreter.  They are set next to the primitive's
definition in ``funcgrad.lax``:

=================  ==============================================================
``impl``           eager kernel: ``impl(*raw_arrays, **params) -> raw array(s)``
``abstract_eval``  shape/dtype rule: ``(*avals, **params) -> aval (or list)``
``jvp``            ``(primals, tangents, **params) -> (primal_out, tangent_out)``;
                   tangents may be ``Zero`` (symbolic zeros)
``transpose``      linear primitives only: ``(ct, *args, **params) -> cts``; linear
                   inputs are ``UndefinedPrimal``
``batch``          ``(args, dims, **params) -> (out, out_dim)``; a dim is ``None`` for
                   an unbatched operand
``partial_eval``   optional online rule for primitives holding jaxprs
``partial_eval_jaxpr``  optional offline rule splitting one equation (see partial_eval)
``lowering``       compiler hints: ``{"ufunc": ..., "cuda": "..."}`` for elementwise ops
``jvp_fns``        set by ``ad.defjvp``/``defjvp2``: ``(per-argument tangent functions,
                   with_ans)``; the eager tape derives elementwise reverse rules from it
``linear_args``    for ``linear`` primitives linear in only some operands (``div``: the
                   numerator): their indices; ``None`` means every floating operand
``dce_rule``       optional, for primitives holding jaxprs: ``(eqn, used_outputs) ->
                   (new_eqn, used_inputs)`` dropping outputs nobody reads (``scan``);
                   ``used_inputs`` flags ``new_eqn.invars``
=================  ==============================================================
"""
from __future__ import annotations


class Primitive:
    """A primitive operation; ``bind`` it to apply it under the current transformations."""

    registry: dict = {}

    __slots__ = ("name", "multiple_results", "impl", "abstract_eval", "jvp", "transpose",
                 "batch", "batch_with_axis", "partial_eval", "lowering", "linear",
                 "elementwise", "test_spec", "call_jaxpr_params", "partial_eval_jaxpr",
                 "effectful", "jvp_fns", "linear_args", "dce_rule", "__weakref__")

    def __init__(self, name: str, multiple_results: bool = False, register: bool = True):
        self.name = name
        self.multiple_results = multiple_results
        self.impl = None
        self.abstract_eval = None
        self.jvp = None
        self.transpose = None
        self.batch = None
        self.batch_with_axis = None   # collectives: (axis_data, args, dims, **params)
        self.partial_eval = None
        self.lowering = {}
        self.linear = False
        self.elementwise = False
        self.test_spec = None          # how the registry test generates inputs
        self.call_jaxpr_params = ()    # names of params holding sub-jaxprs
        self.partial_eval_jaxpr = None  # offline PE of one equation (see partial_eval.py)
        self.effectful = False         # never removed by dead-code elimination
        self.jvp_fns = None            # (tangent fns per argument, with_ans) from defjvp
        self.linear_args = None        # operands a ``linear`` primitive is linear in
        self.dce_rule = None           # (eqn, used_outputs) -> (new_eqn, used_inputs)
        if register:
            if name in Primitive.registry:
                raise ValueError(f"primitive {name!r} defined twice")
            Primitive.registry[name] = self

    def bind(self, *args, **params):
        """Apply this primitive under the current transformations (set by core.trace)."""
        raise RuntimeError("funcgrad.core.trace was not imported")

    def __call__(self, *args, **params):
        return self.bind(*args, **params)

    # decorators, so rules read well next to the definition
    def def_impl(self, fn):
        self.impl = fn
        return fn

    def def_abstract_eval(self, fn):
        self.abstract_eval = fn
        return fn

    def def_jvp(self, fn):
        self.jvp = fn
        return fn

    def def_transpose(self, fn):
        self.transpose = fn
        self.linear = True
        return fn

    def def_batch(self, fn):
        self.batch = fn
        return fn

    def __repr__(self):
        return self.name
