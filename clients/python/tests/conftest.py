"""The suite runs against a real gateway: ``go test ./clients/`` (make test)
starts one and passes its address in SESSIONGW_TEST_URL."""

import itertools
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # examples/

_seq = itertools.count()


def _env(name: str) -> str:
    v = os.environ.get(name)
    if not v:
        pytest.fail(f"{name} is not set: run this suite with `go test ./clients/` (make test), which starts a gateway", pytrace=False)
    return v


@pytest.fixture(scope="session")
def gateway_url() -> str:
    return _env("SESSIONGW_TEST_URL")


@pytest.fixture(scope="session")
def admin_token() -> str:
    return _env("SESSIONGW_TEST_ADMIN_TOKEN")


@pytest.fixture()
def uid() -> str:
    return f"py-{os.getpid()}-{next(_seq)}"
