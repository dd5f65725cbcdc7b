"""Every benchmark script runs as the README gives it, `python bench/NAME.py`, with no PYTHONPATH: two of them
imported the project's packages without putting the repository on the path and failed with
ModuleNotFoundError: No module named 'echo'."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "bench").glob("*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_a_bench_script_starts_from_the_command_the_readme_gives(script, tmp_path):
    run = subprocess.run([sys.executable, str(script.relative_to(ROOT)), "--help"], cwd=ROOT, capture_output=True,
                         text=True, timeout=300, env={"PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-2000:]
    assert "usage:" in run.stdout
