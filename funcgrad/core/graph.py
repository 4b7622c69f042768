"""Graphviz DOT export of a jaxpr (what TensorBoard's graph view gave TF users).

>>> print(fg.make_jaxpr(f)(x).to_dot())          # paste into `dot -Tpng`
"""
from __future__ import annotations

from .ir import ClosedJaxpr, Literal


def _esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace('"', '\\"')


def jaxpr_to_dot(closed: ClosedJaxpr, fusion_groups=None, name: str = "jaxpr") -> str:
    """DOT text: inputs, constants and outputs as ellipses, equations as boxes labelled with
    the primitive and output types, edges labelled with the flowing types.

    ``fusion_groups`` (a list of lists of equation indices, e.g. from the jit compiler's
    fusion plan) draws each group as a cluster.
    """
    jaxpr = closed.jaxpr
    lines = [f'digraph "{_esc(name)}" {{', "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=10];']
    producer = {}
    for i, v in enumerate(jaxpr.invars):
        nid = f"in{i}"
        lines.append(f'  {nid} [shape=ellipse, style=filled, fillcolor="#dbeafe", '
                     f'label="arg{i}\\n{v.aval.str_short()}"];')
        producer[v] = nid
    for i, v in enumerate(jaxpr.constvars):
        nid = f"c{i}"
        lines.append(f'  {nid} [shape=ellipse, style=filled, fillcolor="#f3f4f6", '
                     f'label="const{i}\\n{v.aval.str_short()}"];')
        producer[v] = nid
    group_of = {}
    for g, members in enumerate(fusion_groups or []):
        for e in members:
            group_of[e] = g
    eqn_lines = {}
    for i, e in enumerate(jaxpr.eqns):
        nid = f"e{i}"
        outs = ", ".join(v.aval.str_short() for v in e.outvars)
        params = ""
        if "axes" in e.params:
            params = f"\\naxes={e.params['axes']}"
        eqn_lines[i] = (f'  {nid} [shape=box, style="rounded,filled", fillcolor="#fef3c7", '
                        f'label="{_esc(e.primitive.name)}{params}\\n{outs}"];')
        for v in e.outvars:
            producer[v] = nid
    grouped = set(group_of)
    for i, line in eqn_lines.items():
        if i not in grouped:
            lines.append(line)
    for g, members in enumerate(fusion_groups or []):
        lines.append(f"  subgraph cluster_{g} {{")
        lines.append(f'    label="fused group {g}"; style=dashed; color="#2563eb";')
        for i in members:
            lines.append("  " + eqn_lines[i])
        lines.append("  }")
    for i, e in enumerate(jaxpr.eqns):
        for v in e.invars:
            if isinstance(v, Literal):
                continue
            src = producer.get(v)
            if src is not None:
                lines.append(f'  {src} -> e{i} [label="{v.aval.str_short()}", fontsize=8];')
    for i, v in enumerate(jaxpr.outvars):
        nid = f"out{i}"
        label = v.str_val() if isinstance(v, Literal) else v.aval.str_short()
        lines.append(f'  {nid} [shape=ellipse, style=filled, fillcolor="#dcfce7", '
                     f'label="out{i}\\n{label}"];')
        if not isinstance(v, Literal) and v in producer:
            lines.append(f"  {producer[v]} -> {nid};")
    lines.append("}")
    return "\n".join(lines)
