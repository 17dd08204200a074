from __future__ import annotations

import pytest

from asr.understanding import Understanding


@pytest.fixture(scope="session")
def understanding() -> Understanding:
    return Understanding.from_file()
