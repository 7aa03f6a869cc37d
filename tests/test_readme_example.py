"""The README's example runs as written."""

import re
import runpy
from pathlib import Path

ROOT = Path(__file__).parent.parent


def test_readme_example_runs(tmp_path: Path) -> None:
    """The first python block of the README runs unchanged."""
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", readme, re.DOTALL)
    assert block is not None
    script = tmp_path / "readme_example.py"
    script.write_text(block.group(1))
    runpy.run_path(str(script), run_name="__main__")
