"""The docs' examples (and the README's) run as written.

A fenced ``bash`` or ``python`` block in ``docs/`` is preceded by one of:

- ``<!-- file: NAME -->``: a file of the example, written into the page's working folder;
- ``<!-- run -->``: commands (or a script) run there, in the page's order, which must succeed;
- ``<!-- not run: why -->``: left out on purpose, saying why (and where it is tested instead).

Each page runs in its own temp folder with its own sqlite MLflow store.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCS = REPO / "docs"
BLOCK = re.compile(r"(?:<!-- (file: \S+|run|not run: [^>]+) -->\n)?```(\w*)\n(.*?)```", re.S)


def blocks(page: Path) -> list[tuple[str | None, str, str]]:
    """``(marker, language, text)`` of every fenced block of ``page``."""
    return [(m.group(1), m.group(2), m.group(3)) for m in BLOCK.finditer(page.read_text())]


README = REPO / "README.md"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
RUNNABLE = [p for p in PAGES if any(marker == "run" for marker, _, _ in blocks(p))]


def test_every_shell_and_python_block_says_whether_it_runs() -> None:
    unmarked = [f"{page.name}: {text.splitlines()[0] if text else ''}"
                for page in PAGES for n, (marker, language, text) in enumerate(blocks(page))
                if language in ("bash", "sh", "python") and marker is None
                # the README's fresh-machine commands: what .ci/run itself runs
                and not (page == README and n == 0)]
    assert not unmarked, "mark these <!-- run -->, <!-- file: NAME --> or <!-- not run: why -->"
    assert {p.name for p in RUNNABLE} >= {"README.md", "getting-started.md", "tensorboard.md",
                                          "recipes.md"}


@pytest.mark.parametrize("page", RUNNABLE, ids=lambda p: p.stem)
def test_the_page_s_examples_run(page: Path, workdir: Path) -> None:
    found = blocks(page)
    for marker, _, text in found:
        if marker and marker.startswith("file: "):
            (workdir / marker[len("file: "):]).write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO), "PATH": f"{Path(sys.executable).parent}:"
           f"{os.environ.get('PATH', '')}"}
    for marker, language, text in found:
        if marker != "run":
            continue
        command = ["bash", "-euo", "pipefail", "-c", text] if language != "python" else [
            sys.executable, "-c", text]
        proc = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=600)
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"{page.name}: {text}\n{output[-3000:]}"
        assert "Traceback" not in output, output[-3000:]
