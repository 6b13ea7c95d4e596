"""Sphinx configuration for the derivax documentation (`make docs`).

Pages are MyST Markdown. Pages with ``file_format: mystnb`` in their front matter are
executed on every build (myst-nb, ``force`` mode); a cell that raises fails the build, and
so does anything a cell writes to stderr (warnings included), because ``make docs`` runs
Sphinx with ``-W``.
"""

import derivax

project = "derivax"
author = "the derivax developers"
copyright = "the derivax developers"
release = getattr(derivax, "__version__", "0.1.0")
version = release

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
]

exclude_patterns = ["_build", "jupyter_execute", "**/.ipynb_checkpoints"]
root_doc = "index"

# --- MyST and notebook execution ---------------------------------------------------------
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3
nb_execution_mode = "force"
nb_execution_raise_on_error = True
nb_execution_show_tb = True
nb_execution_timeout = 300
nb_output_stderr = "warn"
nb_merge_streams = True

# --- API reference -------------------------------------------------------------------------
autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
# "Attributes:" sections as field lists: NamedTuple fields are also documented as class
# members, and two descriptions of one attribute would be a duplicate-object warning.
napoleon_use_ivar = True

# --- HTML ----------------------------------------------------------------------------------
html_theme = "alabaster"
html_title = f"derivax {release}"
html_theme_options = {
    "description": "Composable transformations of NumPy-style programs",
    "fixed_sidebar": True,
}


def _skip_foreign_members(app, what, name, obj, skip, options):
    """Document derivax's own objects only, not re-exported NumPy dtypes or constants."""
    if what == "module" and not skip:
        module = getattr(obj, "__module__", None)
        if isinstance(module, str) and not module.startswith("derivax"):
            return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_foreign_members)
