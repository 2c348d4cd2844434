"""Where tests leave what a person may want to look at (screenshots, logs)."""
from pathlib import Path

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
