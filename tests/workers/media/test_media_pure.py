"""The media cores are pure: importing every module of ``animgraph.workers.media`` loads neither
Celery, kombu nor Redis (checked in a fresh interpreter), so they run and test without a broker."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import animgraph.workers.media as media


def test_media_cores_import_no_queue_package() -> None:
    names = sorted(
        m.name for m in pkgutil.iter_modules(media.__path__) if not m.name.startswith("_")
    )
    assert {"decode", "encode", "gif", "webp", "select", "probe"} <= set(names)
    code = "".join(f"import animgraph.workers.media.{name}\n" for name in names)
    code += "import json, sys\nprint(json.dumps(sorted({n.split('.')[0] for n in sys.modules})))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    assert loaded & {"celery", "kombu", "redis"} == set()
