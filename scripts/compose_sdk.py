"""Make one GIF through the official Python SDK (tencentcloud-sdk-python-vod) against a running
animgraph API, as `make compose-test` does against compose.yaml.

The upload goes through animgraph's own client (``ApiClient.upload``: ApplyUpload, the PUT,
CommitUpload; the cloud's SDKs leave the PUT to the object store's SDK); the template, ProcessMedia
and DescribeTaskDetail go through the SDK, signed TC3-HMAC-SHA256 as its README configures it.
The output is downloaded from the URL the task reports and opened with Pillow.

    python scripts/compose_sdk.py --endpoint http://127.0.0.1:8000 --keys id:key CLIP
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
from PIL import Image
from tencentcloud.common import credential
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.vod.v20180717 import models, vod_client

from animgraph.producer.http_client import ApiClient


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("clip", type=Path)
    parser.add_argument("--endpoint", default="http://127.0.0.1:8000")
    parser.add_argument("--keys", required=True, help="SecretId:SecretKey (ANIMGRAPH_API_KEYS)")
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    secret_id, secret_key = args.keys.split(":", 1)
    scheme, host = args.endpoint.split("://", 1)

    http = HttpProfile(endpoint=host.rstrip("/"), reqMethod="POST")
    http.scheme = scheme
    client = vod_client.VodClient(
        credential.Credential(secret_id, secret_key),
        "",
        ClientProfile(signMethod="TC3-HMAC-SHA256", httpProfile=http),
    )

    def call(action: str, params: dict[str, Any]) -> dict[str, Any]:
        request = getattr(models, f"{action}Request")()
        request.from_json_string(json.dumps(params))
        answer: dict[str, Any] = json.loads(getattr(client, action)(request).to_json_string())
        return answer

    started = time.monotonic()
    with ApiClient(args.endpoint, secret_id, secret_key) as api:
        file_id = api.upload(args.clip)
    print(f"uploaded {args.clip.name}: FileId {file_id}")
    template = call(
        "CreateAnimatedGraphicsTemplate",
        {"Name": "compose-test", "Format": "gif", "Width": 160, "Fps": 8},
    )
    definition = template["Definition"]
    print(f"template {definition} (gif, 160 px, 8 fps)")
    task_id = call(
        "ProcessMedia",
        {
            "FileId": file_id,
            "MediaProcessTask": {
                "AnimatedGraphicTaskSet": [
                    {"Definition": definition, "StartTimeOffset": 1, "EndTimeOffset": 3}
                ]
            },
            "SessionContext": "compose-test",
        },
    )["TaskId"]
    print(f"ProcessMedia: {task_id}")
    deadline = time.monotonic() + args.timeout
    while (detail := call("DescribeTaskDetail", {"TaskId": task_id}))["Status"] != "FINISH":
        if time.monotonic() > deadline:
            print(f"{task_id} still {detail['Status']} after {args.timeout:.0f} s", file=sys.stderr)
            return 1
        time.sleep(0.5)
    [result] = detail["ProcedureTask"]["MediaProcessResultSet"]
    sub = result["AnimatedGraphicTask"]
    if sub["Status"] != "SUCCESS":
        print(f"task failed: {sub.get('ErrCodeExt') or sub.get('ErrCode')}: {sub.get('Message')}")
        return 1
    output = sub["Output"]
    url = urljoin(args.endpoint + "/", output["Url"])  # relative without ANIMGRAPH_PUBLIC_URL
    body = httpx.get(url, timeout=30).content
    if (len(body), hashlib.md5(body).hexdigest()) != (output["Size"], output["Md5"]):
        print(f"downloaded {len(body)} bytes, not the {output['Size']} reported", file=sys.stderr)
        return 1
    with Image.open(io.BytesIO(body)) as gif:
        frames, size, fmt = gif.n_frames, gif.size, gif.format
    if fmt != "GIF" or frames <= 1:
        print(f"output is {fmt} with {frames} frame(s), not an animated GIF", file=sys.stderr)
        return 1
    print(
        f"FINISH in {time.monotonic() - started:.1f} s: {url} "
        f"({len(body)} bytes, {fmt} {size[0]}x{size[1]}, {frames} frames)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
