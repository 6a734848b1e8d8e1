"""The package as a whole: declarations against the header, versions, finding the library,
installing, and the example."""

from typing import Any, Dict, List, Optional, Tuple
from pathlib import Path
import contextlib
import ctypes
import ctypes.util
import importlib.util
import inspect
import io
import os
import re
import shutil
import subprocess
import sys

import pytest
from conftest import PYTHON_DIR, REPO_ROOT

import negsync
from negsync import _ffi

HEADER = (REPO_ROOT / "include" / "negsync.h").read_text()


def found(match: "Optional[re.Match[str]]") -> "re.Match[str]":
    """A regular expression's match that the test requires."""
    assert match is not None, "pattern not found"
    return match


def environment_without_negsync_lib(**extra: str) -> Dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name != "NEGSYNC_LIB"}
    env.update(extra)
    return env


def run_python(code: str, cwd: Path, **env: str) -> "subprocess.CompletedProcess[str]":
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env=environment_without_negsync_lib(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


# --- The header, the declarations and the versions -------------------------------------------

C_TYPES = {
    "negsync_result": ctypes.c_uint32,
    "size_t": ctypes.c_size_t,
    "uint64_t": ctypes.c_uint64,
    "bool": ctypes.c_bool,
    "const char *": ctypes.c_char_p,
    "void": None,
    "const uint8_t *": _ffi.BytesIn,
    "uint8_t *": _ffi.BytesIn,
    "const uint8_t **": ctypes.POINTER(ctypes.c_void_p),
    "size_t *": ctypes.POINTER(ctypes.c_size_t),
    "bool *": ctypes.POINTER(ctypes.c_bool),
    "const uint64_t *": ctypes.POINTER(ctypes.c_uint64),
    "uint64_t *": ctypes.POINTER(ctypes.c_uint64),
    "struct negsync_limits *": ctypes.POINTER(_ffi.LimitsStruct),
    "const struct negsync_limits *": ctypes.POINTER(_ffi.LimitsStruct),
    "struct negsync_set *": _ffi.SetPointer,
    "const struct negsync_set *": _ffi.SetPointer,
    "struct negsync_set **": ctypes.POINTER(_ffi.SetPointer),
    "struct negsync_session *": _ffi.SessionPointer,
    "const struct negsync_session *": _ffi.SessionPointer,
    "struct negsync_session **": ctypes.POINTER(_ffi.SessionPointer),
    "struct negsync_session_stats *": ctypes.POINTER(_ffi.SessionStatsStruct),
    "uint32_t": ctypes.c_uint32,
    "struct negsync_manager *": _ffi.ManagerPointer,
    "const struct negsync_manager *": _ffi.ManagerPointer,
    "struct negsync_manager **": ctypes.POINTER(_ffi.ManagerPointer),
    "struct negsync_manager_config *": ctypes.POINTER(_ffi.ManagerConfigStruct),
    "const struct negsync_manager_config *": ctypes.POINTER(_ffi.ManagerConfigStruct),
    "struct negsync_manager_stats *": ctypes.POINTER(_ffi.ManagerStatsStruct),
    "struct negsync_handled *": ctypes.POINTER(_ffi.HandledStruct),
}


def header_functions() -> Dict[str, Tuple[str, List[str]]]:
    """name -> (return type, [parameter types]) for every function the header declares."""
    declarations = re.findall(
        r"^([A-Za-z_][\w ]*?\**)\s*\b(negsync_\w+)\(([^)]*)\);", HEADER, flags=re.MULTILINE
    )
    functions = {}
    for return_type, name, parameters in declarations:
        parameter_types = []
        for parameter in parameters.split(","):
            parameter = " ".join(parameter.split())
            if parameter in ("", "void"):
                continue
            # Drop the parameter name; keep the type with its stars attached.
            type_text = re.sub(r"\s*\b\w+$", "", parameter)
            type_text = re.sub(r"\s*(\*+)$", r" \1", type_text)
            parameter_types.append(type_text)
        functions[name] = (" ".join(return_type.replace("*", " *").split()), parameter_types)
    return functions


def test_header_parser_finds_the_functions() -> None:
    functions = header_functions()
    assert len(functions) >= 20
    assert functions["negsync_session_reconcile"] == (
        "negsync_result",
        ["struct negsync_session *", "const uint8_t *", "size_t", "const uint8_t **",
         "size_t *", "bool *"],
    )
    assert functions["negsync_version"] == ("const char *", [])


# Declared only under NEGSYNC_FIRMWARE, defined only in the bare-metal build (feature c-runtime),
# or (the critical section) defined by the firmware itself on a CPU without compare-and-swap.
FIRMWARE_ONLY = {"negsync_set_allocator", "negsync_set_panic_hook",
                 "negsync_critical_section_enter", "negsync_critical_section_exit"}


def test_every_header_function_is_declared_with_its_exact_types() -> None:
    functions = {name: types for name, types in header_functions().items()
                 if name not in FIRMWARE_ONLY}
    assert set(_ffi.SIGNATURES) == set(functions)
    for name, (return_type, parameter_types) in functions.items():
        declared = getattr(_ffi.lib, name)
        assert declared.restype is C_TYPES[return_type], name
        assert list(declared.argtypes) == [C_TYPES[t] for t in parameter_types], name
        if return_type == "negsync_result":
            assert declared.errcheck in (_ffi.raise_on_failure, _ffi.raise_on_session_failure,
                                         _ffi.raise_on_manager_failure)
        # A mutating manager call explains its failure through the manager's last_error.
        if name in ("negsync_manager_start", "negsync_manager_handle", "negsync_manager_close",
                    "negsync_manager_expire"):
            assert declared.errcheck is _ffi.raise_on_manager_failure, name


def header_struct_fields(struct_name: str) -> List[Tuple[str, str]]:
    """[(type, field name)] of a struct the header defines, in order."""
    body = found(re.search(rf"typedef struct {struct_name} \{{(.*?)\}} {struct_name};", HEADER,
                           flags=re.DOTALL)).group(1)
    body = re.sub(r"/\*.*?\*/", "", body, flags=re.DOTALL)
    fields = (" ".join(line.split()) for line in body.split(";"))
    return [(kind, name) for kind, name in (field.rsplit(None, 1) for field in fields if field)]


STRUCT_FIELD_TYPES = {
    "uint64_t": ctypes.c_uint64,
    "uint32_t": ctypes.c_uint32,
    "size_t": ctypes.c_size_t,
    "bool": ctypes.c_bool,
    "const uint8_t *": ctypes.c_void_p,
    "struct negsync_limits": _ffi.LimitsStruct,
}


@pytest.mark.parametrize("struct_name,declared", [
    ("negsync_limits", _ffi.LimitsStruct),
    ("negsync_session_stats", _ffi.SessionStatsStruct),
    ("negsync_manager_config", _ffi.ManagerConfigStruct),
    ("negsync_manager_stats", _ffi.ManagerStatsStruct),
    ("negsync_handled", _ffi.HandledStruct),
])
def test_every_struct_is_declared_field_for_field(struct_name: str, declared: Any) -> None:
    fields = header_struct_fields(struct_name)
    expected = []
    for type_text, field_name in fields:
        if field_name.startswith("*"):
            type_text, field_name = type_text + " *", field_name.lstrip("*")
        expected.append((field_name, STRUCT_FIELD_TYPES[type_text]))
    assert declared._fields_ == expected


def test_result_codes_match_the_header() -> None:
    defined = dict(re.findall(r"#define (NEGSYNC_\w+) (\d+)", HEADER))
    roles = {name: int(value) for name, value in defined.items()
             if name.startswith("NEGSYNC_ROLE_")}
    assert len(roles) == 3
    for name, value in roles.items():
        assert getattr(negsync, name) == value, name
        assert name in negsync.__all__
    directions = {name: int(value) for name, value in defined.items()
                  if name.startswith("NEGSYNC_DIRECTION_")}
    assert directions == {"NEGSYNC_DIRECTION_OUTBOUND": 0, "NEGSYNC_DIRECTION_INBOUND": 1}
    for name, value in directions.items():
        assert getattr(negsync, name) == value, name
        assert name in negsync.__all__
        short = name.removeprefix("NEGSYNC_DIRECTION_")
        assert getattr(negsync, short) == getattr(negsync.Direction, short) == value, short
        assert short in negsync.__all__
    codes = {name: int(value) for name, value in defined.items()
             if not name.startswith(("NEGSYNC_VERSION_", "NEGSYNC_ROLE_", "NEGSYNC_DIRECTION_"))
             and name not in ("NEGSYNC_ID_SIZE", "NEGSYNC_PEER_ID_SIZE",
                              "NEGSYNC_MIN_FRAME_SIZE_LIMIT")}
    assert int(defined["NEGSYNC_MIN_FRAME_SIZE_LIMIT"]) == negsync.NEGSYNC_MIN_FRAME_SIZE_LIMIT
    assert len(codes) == 10
    for name, value in codes.items():
        assert getattr(negsync, name) == value, name
        assert name in negsync.__all__
        assert negsync.result_str(value).startswith(name)
        assert negsync.NegsyncError(value, "").name == name
    assert negsync.result_str(999) == "unknown result code"
    assert int(defined["NEGSYNC_ID_SIZE"]) == negsync.NEGSYNC_ID_SIZE == 32
    assert int(defined["NEGSYNC_PEER_ID_SIZE"]) == negsync.NEGSYNC_PEER_ID_SIZE == 32


def test_versions_agree_across_library_header_pyproject_and_cargo() -> None:
    header_version = tuple(
        int(found(re.search(rf"#define NEGSYNC_VERSION_{part} (\d+)", HEADER)).group(1))
        for part in ("MAJOR", "MINOR", "PATCH")
    )
    cargo = (REPO_ROOT / "Cargo.toml").read_text()
    cargo_version = found(re.search(r'^\[package\][^\[]*?^version = "([^"]+)"', cargo,
                                    flags=re.MULTILINE | re.DOTALL)).group(1)
    pyproject = (PYTHON_DIR / "pyproject.toml").read_text()
    pyproject_version = found(
        re.search(r'^version = "([^"]+)"', pyproject, flags=re.MULTILINE)).group(1)
    assert negsync.__version__ == cargo_version == pyproject_version
    assert _ffi.HEADER_VERSION == header_version
    assert ".".join(map(str, header_version)) == cargo_version


@pytest.mark.parametrize("version,accepted", [
    ("0.1.0", True), ("0.1.9", True), ("0.2.0", False), ("1.1.0", False), ("x.y", False),
])
def test_library_versions_are_checked_by_semver(version: Any, accepted: bool) -> None:
    if accepted:
        _ffi.check_version(version, "somewhere")
    else:
        with pytest.raises(ImportError, match="somewhere"):
            _ffi.check_version(version, "somewhere")


def test_public_names_exist_and_are_documented() -> None:
    for name in negsync.__all__:
        assert hasattr(negsync, name), name
    documented = [negsync, negsync.ItemSet, negsync.Session, negsync.Limits,
                  negsync.NegsyncError, negsync.id_for_key, negsync.id_for_version,
                  negsync.result_str, negsync.SyncManager, negsync.ManagerConfig,
                  negsync.ManagerStats, negsync.Handled, negsync.Direction]
    for cls in (negsync.ItemSet, negsync.Session, negsync.Limits, negsync.SyncManager,
                negsync.ManagerConfig):
        for member_name, member in vars(cls).items():
            if not member_name.startswith("_"):
                documented.append(member)
    for thing in documented:
        doc = thing.__doc__ if not isinstance(thing, property) else thing.fget.__doc__
        assert doc and doc.strip(), f"{thing!r} has no docstring"
    assert inspect.signature(negsync.Session).parameters["frame_size_limit"].default == 0


# --- Finding the library ---------------------------------------------------------------------


@pytest.mark.skipif("NEGSYNC_LIB" in os.environ, reason="the suite was started with NEGSYNC_LIB")
def test_without_negsync_lib_the_package_copy_or_repository_build_is_loaded() -> None:
    package_copy = _ffi.PACKAGE_DIR / _ffi.LIBRARY_FILE_NAME
    repository_build = REPO_ROOT / "target" / "release" / _ffi.LIBRARY_FILE_NAME
    expected = package_copy if package_copy.is_file() else repository_build
    assert _ffi.library_path == str(expected)


def test_negsync_lib_names_the_library_to_load(tmp_path: Path) -> None:
    renamed = tmp_path / f"renamed-{_ffi.LIBRARY_FILE_NAME}"
    shutil.copy(_ffi.library_path, renamed)
    result = run_python(
        "import negsync, negsync._ffi as ffi\n"
        "s = negsync.ItemSet(); s.insert(1, b'x' * 32)\n"
        "print(ffi.library_path); print(len(s))",
        cwd=tmp_path,
        NEGSYNC_LIB=str(renamed),
        PYTHONPATH=str(PYTHON_DIR),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(renamed), "1"]


@pytest.mark.parametrize("kind", ["missing", "not_a_library"])
def test_bogus_negsync_lib_is_a_clear_import_error(tmp_path: Path, kind: str) -> None:
    bogus = tmp_path / "libnegsync-bogus.so"
    if kind == "not_a_library":
        bogus.write_text("not a shared object")
    result = run_python("import negsync", cwd=tmp_path, NEGSYNC_LIB=str(bogus),
                        PYTHONPATH=str(PYTHON_DIR))
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert last_line.startswith("ImportError:"), result.stderr
    assert "NEGSYNC_LIB" in last_line and str(bogus) in last_line


def test_no_library_anywhere_lists_the_places_tried(tmp_path: Path) -> None:
    if ctypes.util.find_library("negsync"):
        pytest.skip("a system-wide libnegsync exists")
    lonely_package = tmp_path / "site" / "negsync"
    shutil.copytree(PYTHON_DIR / "negsync", lonely_package,
                    ignore=shutil.ignore_patterns("*.so", "*.dylib", "*.dll", "__pycache__"))
    result = run_python("import negsync", cwd=tmp_path, PYTHONPATH=str(tmp_path / "site"))
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    expected_places = ["NEGSYNC_LIB", "make lib", "target/release", "find_library",
                       str(lonely_package / _ffi.LIBRARY_FILE_NAME)]
    for place in expected_places:
        assert place in result.stderr, place


# Installing with pip (a fresh virtual environment, the library built into the package, the
# wheel's tag and metadata) is tested by bindings/python/install_test.sh (make python-install).


# --- The example -----------------------------------------------------------------------------


def test_two_peers_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(PYTHON_DIR / "examples" / "two_peers.py")],
        cwd=REPO_ROOT,
        env=environment_without_negsync_lib(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Alice is done (complete: True)" in result.stdout
    assert "Alice must send to Bob (she has them, he lacks them): 3" in result.stdout
    assert "Alice must fetch from Bob (he has them, she lacks them): 3" in result.stdout
    assert "notes::bob-ideas (v1)" in result.stdout


def test_readme_python_quick_start_runs() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## Quick start: Python", 1)[1]
    snippet = found(re.search(r"```python\n(.*?)```", section, flags=re.DOTALL)).group(1)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet, "README.md", "exec"), {})
    assert f"send: ['{negsync.id_for_key('docs/a').hex()}']" in printed.getvalue()
    assert f"fetch: ['{negsync.id_for_key('docs/b').hex()}']" in printed.getvalue()
