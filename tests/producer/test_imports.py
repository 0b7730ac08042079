"""Producers are light: importing the client or the HTTP client loads neither PyAV, NumPy,
FastAPI nor Celery (each checked in a fresh interpreter, where nothing else imported them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from animgraph.shared.redis_server import RedisServer

HEAVY = ("av", "numpy", "fastapi", "celery")


def _loaded_after(code: str) -> list[str]:
    """The top-level packages of ``HEAVY`` in ``sys.modules`` once ``code`` has run."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted({{n.split('.')[0] for n in sys.modules}} & {set(HEAVY)!r})))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


@pytest.mark.parametrize(
    "statement",
    [
        "import animgraph.producer",
        "from animgraph.producer import Client",
        "from animgraph.producer.http_client import ApiClient",
        "import animgraph.producer.cli",
        "from animgraph.producer.cli import app, main",
    ],
)
def test_import_loads_no_heavy_package(statement: str) -> None:
    assert _loaded_after(statement) == []


def test_the_cli_entry_loads_only_what_a_command_needs() -> None:
    """``animgraph --help`` (the console script's whole command tree) loads no PyAV, NumPy,
    FastAPI, Celery, nor the Redis client: each command imports those when it runs."""
    code = (
        "import sys\nsys.argv = ['animgraph', '--help']\n"
        "from animgraph.producer.cli import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        "import json\nprint(json.dumps(sorted(n for n in ('av', 'numpy', 'fastapi', 'celery', "
        "'redis') if n in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_client_with_injected_probe_stays_light(redis_server: RedisServer, tmp_path: Path) -> None:
    """Registering and enqueueing through a client with its own probe and sender needs no PyAV,
    NumPy or Celery: they are loaded only by the default probe and the Celery sender."""
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"not really a video")
    code = f"""
from pathlib import Path
from animgraph.producer import Client, RecordingSender
from animgraph.shared.models import MediaMetaData
from animgraph.shared.settings import Settings

class Probed:
    meta = MediaMetaData(size=18, width=64, height=48, duration=3.0)
    start_time_s = 0.0

def probe(path, *, max_pixels, max_duration_s):
    return Probed()

sender = RecordingSender()
settings = Settings(redis_url={redis_server.url!r}, data_dir=Path({str(tmp_path)!r}))
with Client(settings, sender=sender, probe=probe) as client:
    media = client.register_media(Path({str(clip)!r}))
    assert client.describe_media(media.file_id).meta_data.width == 64
    client.process_media({{"FileId": media.file_id,
                          "MediaProcessTask": {{"AnimatedGraphicTaskSet": [{{"Definition": 20000}}]}}}})
assert len(sender.sent) == 1
"""
    assert _loaded_after(code) == []
