"""Where the project and the shared data live, for every test module."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# ../shared/data next to the project, or next to a folder above it (a worktree elsewhere)
SHARED_DATA = next((p / "shared" / "data" for p in ROOT.parents if (p / "shared" / "data").is_dir()),
                   ROOT.parent / "shared" / "data")
