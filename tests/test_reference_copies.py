"""``tests/reference/`` holds byte-for-byte copies of the shared reference files, so that a clone
runs every test without them: ``published.yaml`` (the built-ins' exact totals),
``walkthroughs.yaml`` (the textbook cases) and ``torchvision_layers.json`` (torchvision's leaf
modules and the peer tools' counts). Each copy is held to its digest, and to the shared file itself
where ``../shared/reference`` is at hand (a changed reference is copied here on purpose, digest and
all)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

REFERENCE = Path(__file__).parent / "reference"
SHARED = next((p / "shared" / "reference" for p in Path(__file__).resolve().parents if (p / "shared" / "reference").is_dir()), None)
DIGESTS = {
    "published.yaml": "e27414e89690a6ad7a75726b57dc75cdb6b3b992ce8e96814f5db655da53ebad",
    "torchvision_layers.json": "27902f6558c858b6660a9bc9876faf966fc9646ab4146b36eb72ad8285f9e4a3",
    "walkthroughs.yaml": "9ae6907cdd740dd188b3c5874257ee7b9f986c5063a35deda62d78a06899c92b",
}


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_the_copy_is_the_shared_reference(name):
    copy = (REFERENCE / name).read_bytes()
    assert hashlib.sha256(copy).hexdigest() == DIGESTS[name]
    if SHARED is not None and (SHARED / name).is_file():
        assert copy == (SHARED / name).read_bytes()


def test_every_copy_has_a_digest():
    assert sorted(p.name for p in REFERENCE.iterdir() if p.is_file()) == sorted(DIGESTS)
