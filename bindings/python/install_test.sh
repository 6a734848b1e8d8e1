#!/usr/bin/env bash
# `pip install ./bindings/python` as a user does it: a fresh virtual environment (build/pyvenv),
# pip's isolated build (setuptools from PyPI), the library built by setup.py into the package;
# then `import negsync` and a sync from a directory outside the repository without NEGSYNC_LIB,
# and `pip wheel` must give a platform wheel that carries the library, py.typed and the PEP 639
# license metadata. Run by `make python-install` (after `make lib`, so cargo rebuilds nothing).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3}
venv=build/pyvenv
wheels=build/wheels
fail() { echo "python-install: FAIL: $*" >&2; exit 1; }

rm -rf "$venv" "$wheels" bindings/python/build
"$PYTHON" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check ./bindings/python
outside=$(mktemp -d "${TMPDIR:-/tmp}/negsync-py.XXXXXX")
trap 'rm -rf "$outside"' EXIT
(
  cd "$outside"
  env -u NEGSYNC_LIB -u PYTHONPATH "$OLDPWD/$venv/bin/python" - <<'PY'
import negsync, negsync._ffi as ffi
from pathlib import Path
site = Path(negsync.__file__).resolve().parent
assert Path(ffi.library_path).resolve() == site / ffi.LIBRARY_FILE_NAME, ffi.library_path
assert "site-packages" in str(site) and (site / "py.typed").is_file()
with negsync.ItemSet() as mine, negsync.ItemSet() as theirs:
    mine.insert(1, negsync.id_for_key("a"))
    theirs.insert(2, negsync.id_for_key("b"))
    with negsync.Session(mine) as initiator, negsync.Session(theirs) as responder:
        message = initiator.initiate()
        while message is not None:
            message = initiator.reconcile(responder.reconcile(message) or b"")
        assert len(initiator.have_ids) == 1 and len(initiator.need_ids) == 1
print(f"python-install: negsync {negsync.__version__} imported from {site}, library inside the package")
PY
)

"$venv/bin/python" -m pip wheel --quiet --disable-pip-version-check --no-deps -w "$wheels" ./bindings/python
wheel=$(ls "$wheels"/negsync-*.whl)
case "$(basename "$wheel")" in
  *-py3-none-any.whl) fail "pure wheel $(basename "$wheel") for a package with a native library" ;;
  *-py3-none-linux_*.whl | *-py3-none-macosx_*.whl | *-py3-none-win_*.whl) ;;
  *) fail "unexpected wheel tag: $(basename "$wheel")" ;;
esac
"$venv/bin/python" - "$wheel" <<'PY'
import sys, zipfile
names = zipfile.ZipFile(sys.argv[1]).namelist()
for wanted in ("negsync/libnegsync.so", "negsync/py.typed", "negsync/__init__.py"):
    assert wanted in names, (wanted, names)
metadata = zipfile.ZipFile(sys.argv[1]).read(
    next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
assert "License-Expression: MIT OR Apache-2.0" in metadata, metadata
assert "License-File: LICENSE-MIT" in metadata and "License-File: LICENSE-APACHE" in metadata
PY
echo "python-install: $(basename "$wheel") holds the library, py.typed and the license expression"
