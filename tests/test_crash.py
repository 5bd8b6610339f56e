"""Crash test: 20 builds into one output, SIGKILLed at random moments and raced by second writers
(benchmarks/crash.py). Every surviving store opens, passes every chunk's checksum and renders, and
each rerun gives a store byte-identical to an uninterrupted build."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _crash_module():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "crash.py"
    spec = importlib.util.spec_from_file_location("earth3d_crash_benchmark", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # 20 rounds of two or three build processes each: minutes
def test_twenty_builds_killed_and_raced(tmp_path):
    from conftest import data_path

    data_path("pairs", "para_landsat5", "srtm.tif")  # skips without the real data
    crash = _crash_module()
    summary = crash.run(rounds=20, seed=1, work=tmp_path, log=lambda line: None, size=32)
    print("\n".join(summary.lines()))
    assert not summary.failures, summary.failures
    assert summary.rounds == 20 and summary.reruns_identical == 20
    assert summary.killed_before_done >= 5, "too few builds were killed mid-run to test anything"
    assert summary.second_writers >= 5 and summary.second_refused >= 1
    assert summary.resumed >= 1, "no rerun resumed a killed build"
    assert summary.stores_verified >= 10
