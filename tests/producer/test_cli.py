"""The ``animgraph templates`` and ``animgraph flows`` commands, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from animgraph.shared.redis_server import RedisServer


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "animgraph.producer", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANIMGRAPH_")}
    return {**env, **extra}


def test_templates_and_flows_commands(redis_server: RedisServer, tmp_path: Path) -> None:
    env = _env(
        ANIMGRAPH_REDIS_URL=redis_server.url.rsplit("/", 1)[0] + "/4",
        ANIMGRAPH_DATA_DIR=str(tmp_path),
    )
    created = _cli(
        "templates",
        "create",
        "--format",
        "webp",
        "--width",
        "480",
        "--fps",
        "12",
        "--quality",
        "80",
        env=env,
    )
    assert created.returncode == 0, created.stderr
    template = json.loads(created.stdout)
    assert (template["Format"], template["Width"], template["Fps"], template["Quality"]) == (
        "webp",
        480,
        12,
        80,
    )
    definition = str(template["Definition"])

    modified = _cli("templates", "modify", definition, "--fps", "15", env=env)
    assert json.loads(modified.stdout)["Fps"] == 15 and json.loads(modified.stdout)["Width"] == 480
    shown = json.loads(_cli("templates", "show", definition, env=env).stdout)
    assert shown["Fps"] == 15
    listed = json.loads(_cli("templates", "list", "--type", "Preset", env=env).stdout)
    assert [t["Definition"] for t in listed["AnimatedGraphicsTemplateSet"]] == [20000, 20001]

    refused = _cli("templates", "create", "--fps", "61", env=env)
    assert refused.returncode == 2
    assert "InvalidParameterValue.Fps" in refused.stderr and "61" in refused.stderr
    preset = _cli("templates", "delete", "20000", env=env)
    assert preset.returncode == 2 and "InvalidParameterValue.Definition" in preset.stderr

    flow = _cli("flows", "create", "teaser", "-t", f"{definition}:2:5", "-t", "20000:-3", env=env)
    assert flow.returncode == 0, flow.stderr
    tasks = json.loads(flow.stdout)["MediaProcessTask"]["AnimatedGraphicTaskSet"]
    assert tasks[0] == {"Definition": int(definition), "StartTimeOffset": 2.0, "EndTimeOffset": 5.0}
    assert tasks[1]["StartTimeOffset"] == -3.0
    again = _cli("flows", "create", "teaser", "-t", "20000", env=env)
    assert again.returncode == 2 and "InvalidParameter.ExistedProcedureName" in again.stderr
    assert json.loads(_cli("flows", "list", env=env).stdout)["TotalCount"] == 1
    assert _cli("flows", "delete", "teaser", env=env).returncode == 0
    assert _cli("templates", "delete", definition, env=env).returncode == 0
    gone = _cli("templates", "show", definition, env=env)
    assert gone.returncode == 2 and "ResourceNotFound.TemplateNotExist" in gone.stderr


def test_embedded_redis_keeps_templates_between_runs(tmp_path: Path) -> None:
    """With no ANIMGRAPH_REDIS_URL the commands use the embedded Redis's files in the data dir."""
    env = _env(ANIMGRAPH_DATA_DIR=str(tmp_path))
    created = _cli("templates", "create", "--fps", "7", "--height", "240", env=env)
    assert created.returncode == 0, created.stderr
    listed = json.loads(_cli("templates", "list", "--type", "Custom", env=env).stdout)
    assert [t["Fps"] for t in listed["AnimatedGraphicsTemplateSet"]] == [7]


def test_events_commands(redis_server: RedisServer, tmp_path: Path) -> None:
    env = _env(
        ANIMGRAPH_REDIS_URL=redis_server.url.rsplit("/", 1)[0] + "/5",
        ANIMGRAPH_DATA_DIR=str(tmp_path),
    )
    shown = _cli("events", "config", env=env)
    assert shown.returncode == 0 and json.loads(shown.stdout)["Mode"] == "PULL"
    refused = _cli(
        "events", "config", "--mode", "PUSH", "--url", "http://192.168.1.5/hook", env=env
    )
    assert refused.returncode == 2 and "InvalidParameterValue.NotificationUrl" in refused.stderr
    allowed = _cli(
        "events", "config", "--mode", "PUSH", "--url", "http://127.0.0.1:9/hook",
        env={**env, "ANIMGRAPH_CALLBACK_ALLOW_HOSTS": "127.0.0.1"},
    )  # fmt: skip
    assert json.loads(allowed.stdout)["NotificationUrl"] == "http://127.0.0.1:9/hook"
    pulled = _cli("events", "pull", "--wait", "0", "--confirm", env=env)
    assert pulled.returncode == 0 and json.loads(pulled.stdout) == {"EventSet": []}


def test_templates_loop_options(redis_server: RedisServer, tmp_path: Path) -> None:
    """--loop-mode (any case), --loop-count, --seam-window and --highlight on create and modify;
    a bad value is the API's refusal naming the field."""
    env = _env(
        ANIMGRAPH_REDIS_URL=redis_server.url.rsplit("/", 1)[0] + "/6",
        ANIMGRAPH_DATA_DIR=str(tmp_path),
    )
    created = _cli(
        "templates", "create", "--fps", "10", "--loop-mode", "pingpong", "--loop-count", "3",
        "--highlight", "2.5", env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    template = json.loads(created.stdout)
    # the JSON leaves an extension at its default out (SeamWindow 1 here, contract §2.5)
    defaults = {"LoopMode": "Forward", "LoopCount": 0, "SeamWindow": 1.0, "HighlightDuration": 0}
    loop = tuple(defaults)
    assert [template.get(k, defaults[k]) for k in loop] == ["PingPong", 3, 1.0, 2.5]
    assert "SeamWindow" not in template
    definition = str(template["Definition"])
    modified = _cli(
        "templates", "modify", definition, "--loop-mode", "SEAMLESS", "--seam-window", "0.5",
        env=env,
    )  # fmt: skip
    assert modified.returncode == 0, modified.stderr
    changed = json.loads(modified.stdout)
    assert [changed.get(k, defaults[k]) for k in loop] == ["Seamless", 3, 0.5, 2.5]

    for option, value, code in [
        ("--loop-count", "65536", "InvalidParameterValue.LoopCount"),
        ("--seam-window", "3.5", "InvalidParameterValue.SeamWindow"),
        ("--highlight", "0.2", "InvalidParameterValue.HighlightDuration"),
    ]:
        refused = _cli("templates", "modify", definition, option, value, env=env)
        assert refused.returncode == 2 and code in refused.stderr, refused.stderr
    unknown = _cli("templates", "create", "--fps", "10", "--loop-mode", "boomerang", env=env)
    assert unknown.returncode == 2 and "boomerang" in unknown.stderr
