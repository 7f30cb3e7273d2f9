"""No network and no telemetry: a real build with the bundled model, in subprocesses whose every
connection attempt or DNS lookup is recorded and fails (tests/netguard.py), prints only our lines."""

from __future__ import annotations

import re

import pytest

from .conftest import DemoBuild

pytestmark = pytest.mark.model

# Every line a first or later run may print: ours only (no warnings, no third-party progress bars).
OURS = [
    r"1 file\(s\), 120 row\(s\): 120 added, 0 updated, 0 unchanged, 0 removed, 0 rejected",
    r"recommender: building the int8 model once, into \S+ \(1-2 min\)",
    r"recommender: warning: fast backend unavailable \(.*\); using torch",  # where int8 cannot be built
    r"(embedding|neighbour lists): [\d,]+/[\d,]+ \(\d+%\)(, [\d,.]+/s)?(, (\d+m)?\d+s left)?",
    r"embedded 120 article\(s\) \([\d.]+ articles/s\); flat index of 120 built with multilingual-e5-small "
    r"in [\d.]+s; near-duplicate threshold 0\.\d+",
]


def test_a_real_build_makes_no_network_access(demo_build: DemoBuild) -> None:
    assert demo_build.network == []


def test_no_telemetry_files_are_written(demo_build: DemoBuild) -> None:
    assert not (demo_build.fake_user_home / "intel").exists()  # OpenVINO telemetry's consent and ids


def test_the_build_prints_only_its_own_lines(demo_build: DemoBuild) -> None:
    foreign = [
        line
        for line in demo_build.output.splitlines()
        if line.strip() and not any(re.fullmatch(p, line) for p in OURS)
    ]
    assert foreign == []


def test_telemetry_is_switched_off_before_any_import() -> None:
    import subprocess
    import sys

    code = (
        "import recommender, sys, os\n"
        "assert sys.modules['openvino_telemetry'] is None\n"
        "try:\n    import openvino_telemetry\nexcept ImportError:\n    print('blocked')\n"
        "print(os.environ['HF_HUB_DISABLE_TELEMETRY'], os.environ['DO_NOT_TRACK'])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["blocked", "1", "1"]
