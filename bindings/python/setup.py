"""Build hook of the negsync Python package: builds libnegsync from the repository and ships it
inside the package, so that `pip install ./bindings/python` gives an `import negsync` that works
from any directory, and `pip wheel` a platform wheel (the package holds a native library, though
no Python extension: tag py3-none-<platform>).

The library is `make lib`'s (`cargo rustc --release --lib --crate-type cdylib,staticlib`, with
LTO), built in the repository's target directory (or $CARGO_TARGET_DIR), so a tree where `make lib`
already ran rebuilds nothing. A copy already placed in negsync/ (by hand, or by a packager) is
used as it is. Everything else is in pyproject.toml.
"""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Optional, Tuple

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:  # setuptools >= 70.1 has its own; before, it came from the wheel package.
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # pragma: no cover
    from wheel.bdist_wheel import bdist_wheel  # type: ignore[no-redef]

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE.parent.parent
if sys.platform == "darwin":
    LIBRARY = "libnegsync.dylib"
elif sys.platform == "win32":
    LIBRARY = "negsync.dll"
else:
    LIBRARY = "libnegsync.so"


def library() -> Path:
    """The library to ship: a copy already in the package, or a fresh `make lib` build."""
    placed = HERE / "negsync" / LIBRARY
    if placed.is_file():
        return placed
    manifest = REPOSITORY / "Cargo.toml"
    if not manifest.is_file():
        raise SystemExit(
            f"negsync: no {LIBRARY} in {placed.parent} and no Cargo.toml at {REPOSITORY}: build "
            "the package from the repository's bindings/python (pip >= 21.3 builds in place), "
            "or put a libnegsync built with `make lib` into negsync/ first"
        )
    target_dir = Path(os.environ.get("CARGO_TARGET_DIR") or REPOSITORY / "target")
    command = ["cargo", "rustc", "--release", "--lib", "--crate-type", "cdylib,staticlib",
               "--manifest-path", str(manifest)]
    print("negsync: building the library:", " ".join(command), flush=True)
    try:
        subprocess.run(command, check=True, cwd=REPOSITORY,
                       env=dict(os.environ, CARGO_TARGET_DIR=str(target_dir)))
    except FileNotFoundError:
        raise SystemExit("negsync: cargo was not found; install Rust (https://rustup.rs)") from None
    built = target_dir / "release" / LIBRARY
    if not built.is_file():
        raise SystemExit(f"negsync: cargo finished but {built} does not exist")
    return built


class BuildPyWithLibrary(build_py):
    """build_py, then the native library into the built package."""

    def run(self) -> None:
        super().run()
        destination = Path(self.build_lib) / "negsync" / LIBRARY
        destination.parent.mkdir(parents=True, exist_ok=True)
        self.copy_file(str(library()), str(destination))


class PlatformWheel(bdist_wheel):  # type: ignore[misc,valid-type]
    """A wheel for this platform (the library), for any Python 3 (ctypes, no extension)."""

    def finalize_options(self) -> None:
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self) -> Tuple[str, str, str]:
        _, _, platform = super().get_tag()
        return "py3", "none", platform


class NativeDistribution(Distribution):
    """Not a pure-Python distribution: it carries a native library."""

    def has_ext_modules(self) -> bool:
        return True


def main(argv: Optional[Any] = None) -> None:
    setup(
        distclass=NativeDistribution,
        cmdclass={"build_py": BuildPyWithLibrary, "bdist_wheel": PlatformWheel},
    )


if __name__ == "__main__":
    main()
