"""ID derivation: SHA-256 of the key, or of the length-prefixed key and the version."""

from typing import Any
import hashlib

import pytest

import negsync


def reference_id_for_version(key: bytes, version: bytes) -> bytes:
    return hashlib.sha256(len(key).to_bytes(8, "little") + key + version).digest()


@pytest.mark.parametrize("key", [b"", b"abc", b"nodes::node-1", bytes(range(256)) * 40])
def test_id_for_key_is_sha256_of_the_key(key: bytes) -> None:
    assert negsync.id_for_key(key) == hashlib.sha256(key).digest()
    assert negsync.id_for_key(bytearray(key)) == hashlib.sha256(key).digest()
    assert negsync.id_for_key(memoryview(key)) == hashlib.sha256(key).digest()


def test_id_for_key_of_abc() -> None:
    assert negsync.id_for_key(b"abc") == hashlib.sha256(b"abc").digest()
    assert len(negsync.id_for_key(b"abc")) == negsync.NEGSYNC_ID_SIZE == 32


@pytest.mark.parametrize(
    "key,version",
    [
        (b"", b""),
        (b"k", b""),
        (b"", b"v"),
        (b"nodes::node-1", b"\x00\x01heads"),
        (b"a" * 300, b"b"),
    ],
)
def test_id_for_version_prefixes_the_key_length(key: bytes, version: Any) -> None:
    assert negsync.id_for_version(key, version) == reference_id_for_version(key, version)


def test_id_for_version_separates_key_from_version() -> None:
    # Without the length prefix these two would hash the same bytes "abc".
    assert negsync.id_for_version(b"ab", b"c") != negsync.id_for_version(b"a", b"bc")
    assert negsync.id_for_version(b"abc", b"") != negsync.id_for_key(b"abc")


def test_str_keys_and_versions_are_utf8() -> None:
    key = "nodes::nœud-ü"
    assert negsync.id_for_key(key) == hashlib.sha256(key.encode("utf-8")).digest()
    assert negsync.id_for_version(key, "v2✓") == reference_id_for_version(
        key.encode("utf-8"), "v2✓".encode("utf-8")
    )


def test_keys_of_other_types_are_refused() -> None:
    with pytest.raises(TypeError):
        negsync.id_for_key(123)  # type: ignore[arg-type]  # the wrong type is the test
    with pytest.raises(TypeError):
        negsync.id_for_version(b"k", None)  # type: ignore[arg-type]  # the wrong type is the test
