"""The documentation cannot rot: ``docs/build.py``'s checks, and every code block of the
pages (``docs/*.md`` and ``README.md``) runs, with its printed output compared to the page.

* a ``python`` block runs (blocks of one page share a namespace, in order, in a temporary
  working directory) unless the line before its fence is ``<!-- skip: reason -->``;
* a ``text`` block preceded by ``<!-- output -->`` must match what the python block before
  it printed (doctest rules: ``...`` matches anything, whitespace runs compare equal);
* every relative link and every inline-code reference to a funcgrad name or repository
  file resolves;
* every name of the API contract (API.md) exists and has a docstring.
"""
import importlib.util
import os
import sys
import warnings

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "docs", "build.py")


def _load_build():
    name = "funcgrad_docs_build"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BUILD)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod          # dataclasses need the module registered
    spec.loader.exec_module(mod)
    return mod


build = _load_build()
PAGES = build.pages()
API_NAMES = build.load_api_names()


@pytest.fixture(scope="module")
def reference():
    return build.collect()


def _page_id(path):
    return os.path.relpath(path, ROOT)


# ----------------------------------------------------------------------------- build checks

def test_links_resolve():
    problems = build.check_links(PAGES)
    assert not problems, "\n".join(problems)


def test_code_references_resolve():
    problems = build.check_code_references(PAGES)
    assert not problems, "\n".join(problems)


def test_generated_reference_is_consistent(reference):
    """The generated api.md links only to its own anchors (and to index.md)."""
    text = build.render(reference)
    anchors = set(build.re.findall(r'<a id="([^"]+)"></a>', text))
    targets = set(build.re.findall(r"\]\(#([^)]+)\)", text))
    assert targets <= anchors, sorted(targets - anchors)[:20]
    for e in reference.by_name.values():
        assert e.anchor in anchors


@pytest.mark.parametrize("name", API_NAMES)
def test_api_name_documented(reference, name):
    """Every name that API.md promises exists and has a docstring of its own."""
    problem = build.api_coverage(reference)[name]
    assert problem is None, (
        f"{name}: {problem}; add a docstring (or, for a constant or a layer pair, a `#:` "
        f"comment on the line above its assignment), then run `python docs/build.py`")


def test_public_names_have_docstrings(reference):
    """Every other public name should have a docstring too; missing ones are reported as
    a warning (``python docs/build.py`` lists them and exits non-zero)."""
    missing = [p for p in reference.problems if p.startswith("missing docstring")]
    if missing:
        warnings.warn(f"{len(missing)} public names have no docstring, e.g. "
                      + "; ".join(m.split(": ", 1)[1] for m in missing[:10]), stacklevel=1)


@pytest.mark.filterwarnings("ignore::RuntimeWarning",     # nan in fnp.arccosh's example
                            "ignore::hypothesis.errors.NonInteractiveExampleWarning")
def test_docstring_examples(reference, tmp_path, monkeypatch):
    """Every ``>>>`` example of every docstring runs and prints what it shows (the check of
    ``python docs/build.py --doctest``); if a change to the library changes a printed
    value, check the new value is right and update the docstring."""
    monkeypatch.chdir(tmp_path)           # examples may write files
    problems = build.run_docstring_examples(reference)
    assert not problems, "\n".join(problems)


# ----------------------------------------------------------------------------- pages

@pytest.mark.parametrize("path", PAGES, ids=_page_id)
def test_page_code_blocks(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)           # pages may write files (checkpoints, .dot)
    failures = build.run_page(path)
    if failures:
        msgs = [f"{_page_id(b.path)}:{b.line}: {msg}" for b, msg in failures]
        pytest.fail("\n\n".join(msgs), pytrace=False)


def test_pages_have_runnable_code():
    """Each hand-written page under docs/ (except the contributor pages) runs some code."""
    for path in PAGES:
        if os.path.basename(path) == "README.md" or not build.runnable(path):
            continue
        blocks = [b for b in build.code_blocks(path) if b.lang == "python" and not b.skip]
        assert blocks, f"{_page_id(path)} has no runnable python block"
