"""Package list for setuptools; all other metadata lives in pyproject.toml.

The import name `derivax` is served from the folder `core/`. setuptools' automatic
discovery only finds packages under their folder names, so this file builds the list:
each library in `LIBRARIES` contributes its top package and every subfolder that has an
`__init__.py`, under the import name. A library whose folder does not exist yet is skipped.
"""

from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent

# import name -> folder. Add a line here for a new top-level library.
LIBRARIES = {
    "derivax": "core",
    "nn_modules": "nn_modules",
    "nn_pytree": "nn_pytree",
    "nn_transform": "nn_transform",
}


def _packages() -> tuple[list[str], dict[str, str]]:
    packages: list[str] = []
    package_dir: dict[str, str] = {}
    for name, folder in LIBRARIES.items():
        if not (HERE / folder / "__init__.py").is_file():
            continue
        package_dir[name] = folder
        packages.append(name)
        packages += [f"{name}.{sub}" for sub in find_packages(str(HERE / folder))]
    return packages, package_dir


packages, package_dir = _packages()
setup(packages=packages, package_dir=package_dir)
