"""Sphinx configuration of the fusedxent documentation.

Built by ``python -m sphinx -W -b html docs build/html`` after
``pip install ".[docs]"`` (warnings are errors).  Theme: the PyData theme,
the one NumPy, SciPy and pandas use, so a user arrives in a layout they
know; it ships its fonts and icons, so the site needs no network.
Formulas are plain Unicode in the text: MathJax would load from a CDN.
"""
import os
import sys

import fusedxent

project = "fusedxent"
author = "the fusedxent developers"
copyright = "2026, the fusedxent developers"
version = release = fusedxent.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "build", "gen_modules", "**.ipynb_checkpoints"]

# -- API reference ----------------------------------------------------------
autosummary_generate = True
autodoc_typehints = "none"            # the signatures are in the stubs; numpydoc sections carry the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
# every public docstring must keep these sections (tests/test_typing.py checks them too)
numpydoc_validation_checks = {"PR01", "PR02", "RT01"}
numpydoc_validation_exclude = {r"\.__", r"\._", r"Evaluation$", r"Calibration$", r"PerClass$",
                               r"BinaryEvaluation$", r"LinearGrads$", r"RowStats$", r"TemperatureFit$", r"ROC$", r"OneVsRest$", r"Classwise$", r"\.(thresholds|tpr|fpr|auroc|average_precision|class_ece|class_auroc)$", r"\.(count|index)$",
                               r"\.(ece|mce|confidence|accuracy|recall|precision|f1|macro_f1|"
                               r"balanced_accuracy|perplexity)$"}
intersphinx_mapping = {}              # no network at build time

# -- Markdown ---------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# -- Gallery: every example runs at build time ------------------------------
sphinx_gallery_conf = {
    "examples_dirs": os.path.join(os.path.dirname(__file__), "..", "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"\.py$",          # run them all, not only plot_*
    "download_all_examples": False,
    "remove_config_comments": True,
    "matplotlib_animations": False,
    "abort_on_example_error": True,
    "plot_gallery": "True",
}

# -- HTML ---------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"fusedxent {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_show_sourcelink = False
# pages without sub-pages get the whole width (the performance tables need it)
html_sidebars = {page: [] for page in ("index", "install", "performance", "performance-log", "architecture",
                                       "changelog")}

# warnings are errors (-W): nothing here should need the network
suppress_warnings = []
sys.path.insert(0, os.path.abspath(os.path.dirname(__file__)))
