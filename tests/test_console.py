"""End to end through the web console in a real headless Chromium (Debian's ``chromium``,
driven by Playwright), against a real ``animgraph api`` process, a real Redis and a real worker.

Each test has a page of its own, as a person would use it: sign in, a refused template value,
create and edit a template, create a task flow, upload a clip with a flow and watch the task,
run ad-hoc tasks with a failing one. What a test needs from earlier steps (a signed-in page, a
custom template, a task flow, a clip) its fixtures make. Each step leaves a screenshot in
``tests/artifacts/console/``. Chromium is installed by ``scripts/install-test-deps.sh`` (run
by ``make test``); without it these tests fail, they do not skip.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright
from stack import Stack, StackFactory

from animgraph.producer.http_client import ApiClient
from animgraph.shared.errors import ApiError
from animgraph.shared.formats import FORMATS
from animgraph.shared.sizes import SIZE_PRESETS

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SECRET_ID, SECRET_KEY = "AKIDconsoletest", "console-test-secret-key"
PASSWORD = "console-test-password"
ARTIFACTS = Path(__file__).parent / "artifacts" / "console"
HEADER = {"X-Animgraph-Console": "1"}
FLOW = "console-flow"


@pytest.fixture(scope="module")
def stack(module_stack_factory: StackFactory) -> Stack:
    """Redis, a worker and ``animgraph api`` with a console password, outputs served over HTTP."""
    env = {
        "ANIMGRAPH_API_KEYS": f"{SECRET_ID}:{SECRET_KEY}",
        "ANIMGRAPH_CONSOLE_PASSWORD": PASSWORD,
    }
    return module_stack_factory.start("console", api=True, env=env)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/install-test-deps.sh (make test does) to "
            "install Debian's chromium package"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture()
def page(browser: Browser, stack: Stack) -> Iterator[Page]:
    """A signed-out page on the console, in a browser context of its own; JavaScript errors
    and CSP refusals fail the test."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))

    def on_console(message: ConsoleMessage) -> None:
        # A refused sign-in or value is a 4xx answer, which Chromium logs; anything else
        # (script errors, Content-Security-Policy refusals) is a fault.
        if message.type == "error" and "Failed to load resource" not in message.text:
            problems.append(f"console: {message.text}")

    page.on("console", on_console)
    page.goto(f"{stack.endpoint}/console")
    try:
        yield page
    finally:
        context.close()
    assert not problems, problems


@pytest.fixture()
def signed_in(page: Page, stack: Stack) -> None:
    """``page`` signed in through the console's own login call, on the Media files view."""
    answer = page.context.request.post(
        f"{stack.endpoint}/console/api/login", data={"Password": PASSWORD}, headers=HEADER
    )
    assert answer.ok, answer.text()
    page.reload()
    expect(page.get_by_role("heading", name="Media files")).to_be_visible()


def _api(stack: Stack) -> ApiClient:
    return ApiClient(stack.endpoint, SECRET_ID, SECRET_KEY)


@pytest.fixture()
def custom_template(stack: Stack) -> int:
    """The Definition of a custom WebP template, as test_create_and_edit_template leaves one."""
    fields = {"Name": "console-webp", "Format": "webp", "Width": 240, "Fps": 10}
    with _api(stack) as api:
        return int(api.call("CreateAnimatedGraphicsTemplate", fields)["Definition"])


@pytest.fixture()
def task_flow(stack: Stack, custom_template: int) -> str:
    """The name of a task flow like the one test_create_task_flow makes (a name of its own:
    flow names are unique)."""
    name = f"{FLOW}-upload"
    items = [
        {"Definition": custom_template, "StartTimeOffset": 0, "EndTimeOffset": 1.5},
        {"Definition": 20000, "StartTimeOffset": 1, "EndTimeOffset": 2},
    ]
    with _api(stack) as api:
        api.call(
            "CreateProcedureTemplate",
            {"Name": name, "MediaProcessTask": {"AnimatedGraphicTaskSet": items}},
        )
    return name


@pytest.fixture()
def cockatoo(stack: Stack, corpus_dir: Path) -> None:
    """One media file named cockatoo: the upload test leaves one; without it, upload it here
    (never a second one, whose "Process cockatoo" link would be ambiguous)."""
    with httpx.Client(base_url=f"{stack.endpoint}/console") as http:
        http.post("/api/login", json={"Password": PASSWORD}, headers=HEADER).raise_for_status()
        names = [m["Name"] for m in http.get("/api/media").json()["MediaSet"]]
    if "cockatoo" not in names:
        with _api(stack) as api:
            api.upload(corpus_dir / "cockatoo.mp4")


def _shot(page: Page, name: str) -> None:
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def _api_error(stack: Stack, action: str, params: dict[str, Any]) -> ApiError:
    """The error the HTTP API itself answers for ``params``."""
    with _api(stack) as api, pytest.raises(ApiError) as info:
        api.call(action, params)
    return info.value


def test_sign_in(page: Page, stack: Stack) -> None:
    expect(page).to_have_url(f"{stack.endpoint}/console/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_hidden()  # only a signed-in page offers it
    page.get_by_label("Console password").fill("not-the-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-error")).to_contain_text("AuthFailure.SignIn")
    _shot(page, "01-sign-in-refused")

    page.get_by_label("Console password").fill(PASSWORD)
    page.get_by_label("Console password").press("Enter")  # the keyboard submits the form
    expect(page.get_by_role("heading", name="Media files")).to_be_visible()
    expect(page.get_by_role("navigation", name="Console sections")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "animgraph_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/console"
    assert page.evaluate("document.cookie") == ""  # the session id is out of the script's reach
    expect(sign_out).to_be_visible()
    _shot(page, "02-signed-in")
    sign_out.click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(sign_out).to_be_hidden()
    page.reload()  # and signed out server-side too
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(sign_out).to_be_hidden()


@pytest.mark.usefixtures("signed_in")
def test_refused_template_value(page: Page, stack: Stack) -> None:
    page.get_by_role("link", name="Templates").click()
    expect(page.get_by_role("heading", name="New custom template")).to_be_visible()
    for preset in (20000, 20001):
        row = page.locator(f'#templates-table tr[data-definition="{preset}"]')
        expect(row).to_contain_text("read-only")
        expect(row.get_by_role("button")).to_have_count(0)
    expect(page.locator("#tpl-Width-hint")).to_contain_text("128 to 4096")
    page.get_by_label("Fps").fill("10")
    page.get_by_label("Width").fill("127")
    page.get_by_role("button", name="Create template").click()
    expected = _api_error(stack, "CreateAnimatedGraphicsTemplate", {"Fps": 10, "Width": 127})
    assert expected.code == "InvalidParameterValue.Resolution"
    expect(page.locator("#template-error")).to_have_text(f"{expected.code}: {expected.message}")
    expect(page.locator("#tpl-Width")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#tpl-Width")).to_be_focused()
    expect(page.locator("#tpl-Width-error")).to_have_text(expected.message)
    _shot(page, "03-template-refused")


@pytest.mark.usefixtures("signed_in")
def test_create_and_edit_template(page: Page) -> None:
    page.get_by_role("link", name="Templates").click()
    page.get_by_label("Name").fill("console-webp")
    page.get_by_label("Format").select_option("webp")
    page.get_by_label("Width").fill("240")
    page.get_by_label("Fps").fill("8")
    page.get_by_role("button", name="Create template").click()
    notice = page.locator("#templates-notice")
    expect(notice).to_contain_text("Created template")
    definition = int(notice.inner_text().split()[-1].rstrip("."))
    assert definition >= 100001
    row = page.locator(f'#templates-table tr[data-definition="{definition}"]')
    expect(row).to_contain_text("console-webp")

    row.get_by_role("link", name=f"Edit template {definition}").click()
    expect(page.get_by_role("heading", name=f"Edit template {definition}")).to_be_visible()
    expect(page.get_by_label("Width")).to_have_value("240")
    page.get_by_label("Fps").fill("10")
    page.get_by_role("button", name="Save changes").click()
    expect(notice).to_contain_text(f"Saved template {definition}.")
    expect(row.locator("td").nth(7)).to_have_text("10")
    _shot(page, "04-templates")


@pytest.mark.usefixtures("signed_in")
def test_create_task_flow(page: Page, custom_template: int) -> None:
    definition = custom_template
    page.get_by_role("link", name="Task flows").click()
    expect(page.get_by_role("heading", name="New task flow")).to_be_visible()
    page.get_by_label("Name").fill(FLOW)
    page.get_by_label("Comment").fill("made in the console")
    first = page.locator("[data-entry]").nth(0)
    first.get_by_label("Template").select_option(str(definition))
    first.get_by_label("Start offset (s)").fill("0")
    first.get_by_label("End offset (s)").fill("1.5")
    page.get_by_role("button", name="Add an image").click()
    second = page.locator("[data-entry]").nth(1)
    expect(second.get_by_label("Template")).to_be_focused()
    second.get_by_label("Template").select_option("20000")
    second.get_by_label("Start offset (s)").fill("1")
    second.get_by_label("End offset (s)").fill("2")
    page.get_by_role("button", name="Create task flow").click()
    expect(page.locator("#flows-notice")).to_have_text(f"Saved task flow {FLOW}.")
    row = page.locator(f'#flows-table tr[data-flow="{FLOW}"]')
    expect(row).to_contain_text(f"Template {definition}: 0 s → 1.5 s")
    expect(row).to_contain_text("Template 20000: 1 s → 2 s")
    _shot(page, "05-task-flow")


@pytest.mark.usefixtures("signed_in")
def test_upload_with_the_flow_and_watch_the_task(
    page: Page, stack: Stack, corpus_dir: Path, task_flow: str
) -> None:
    # Exactly "Upload": an empty media list shows an "Upload a video" link too.
    page.get_by_role("link", name="Upload", exact=True).click()
    page.get_by_label("Video file").set_input_files(corpus_dir / "cockatoo.mp4")
    page.get_by_label("Process during upload").select_option(task_flow)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-done")).to_be_visible()
    assert page.locator("#upload-progress").evaluate("el => el.value") == 100
    expect(page.locator("#upload-percent")).to_contain_text("100%")
    _shot(page, "06-upload")
    task_id = page.locator("#upload-task-link").inner_text()

    # The task list follows the task without reloading the page.
    page.get_by_role("link", name="Tasks").click()
    page.evaluate("window.__sameDocument = true")
    row = page.locator(f'#tasks-body tr[data-task="{task_id}"]')
    expect(row).to_be_visible()
    expect(row.locator(".task-status")).to_have_text("FINISH", timeout=120_000)
    expect(row).to_contain_text("2/2")
    assert page.evaluate("window.__sameDocument") is True
    _shot(page, "07-tasks")

    row.get_by_role("link").click()
    expect(page.locator("#task-status")).to_have_text("FINISH")
    cards = page.locator('article.subtask[data-status="SUCCESS"]')
    expect(cards).to_have_count(2)
    formats = []
    for i in range(2):
        card = cards.nth(i)
        image = card.locator("img.output")
        expect(image).to_be_visible()
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
        url = card.locator("a.download").get_attribute("href")
        assert url and url.startswith(f"{stack.endpoint}/files/")
        assert image.get_attribute("src") == url
        body = httpx.get(url, timeout=10).content
        expect(card.locator(".out-md5")).to_have_text(hashlib.md5(body).hexdigest())
        expect(card.locator(".out-size")).to_contain_text(f"({len(body):,} bytes)")
        with Image.open(io.BytesIO(body)) as picture:
            assert getattr(picture, "n_frames", 1) > 1  # it animates
            formats.append(picture.format)
            width, height = picture.size
        expect(card.locator(".out-dimensions")).to_have_text(f"{width}\u00d7{height} px")
        natural = image.evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert natural == [width, height]
    assert sorted(formats) == ["GIF", "WEBP"]
    _shot(page, "08-task")


@pytest.mark.usefixtures("cockatoo", "signed_in")
def test_ad_hoc_tasks_on_a_media_file_with_a_failure(page: Page) -> None:
    page.get_by_role("link", name="Media files").click()
    page.get_by_role("link", name="Process cockatoo").click()
    expect(page.get_by_role("heading", name="Process cockatoo")).to_be_focused()
    page.get_by_label("Ad-hoc animated images").check()
    entry = page.locator("[data-entry]").nth(0)
    entry.get_by_label("Template").select_option("20001")
    entry.get_by_label("Start offset (s)").fill("-1")
    page.get_by_role("button", name="Add an image").click()
    bad = page.locator("[data-entry]").nth(1)
    bad.get_by_label("Template").select_option("20000")
    bad.get_by_label("Start offset (s)").fill("500")
    bad.get_by_label("End offset (s)").fill("501")
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_role("heading", name="Task animgraph-Procedure-")).to_be_visible()
    expect(page.locator("#task-status")).to_have_text("FINISH", timeout=120_000)
    expect(page.locator('article.subtask[data-status="SUCCESS"] img.output')).to_be_visible()
    failed = page.locator('article.subtask[data-status="FAIL"]')
    expect(failed).to_have_count(1)
    expect(failed.locator(".err-code-ext")).not_to_be_empty()
    expect(failed.locator(".err-message")).not_to_be_empty()
    code = failed.locator(".err-code-ext").inner_text()
    assert "." in code, code
    _shot(page, "09-failed-subtask")


@pytest.mark.usefixtures("cockatoo", "signed_in")
def test_loop_fields_in_the_template_form(page: Page, stack: Stack) -> None:
    """The loop extensions (contract §2.5) in the form: a refused value marks its own field; a
    ping-pong template shows in the list and its task's output says how it loops."""
    page.get_by_role("link", name="Templates").click()
    expect(page.locator("#tpl-LoopMode")).to_have_value("Forward")  # the defaults
    expect(page.locator("#tpl-LoopCount-hint")).to_contain_text("0 forever")
    page.get_by_label("Name").fill("console-loop")
    page.get_by_label("Fps").fill("5")
    page.get_by_label("Loop mode").select_option("PingPong")
    page.get_by_label("Loop count").fill("70000")
    page.get_by_role("button", name="Create template").click()
    expected = _api_error(
        stack,
        "CreateAnimatedGraphicsTemplate",
        {"Fps": 5, "LoopMode": "PingPong", "LoopCount": 70000},
    )
    assert expected.code == "InvalidParameterValue.LoopCount"
    expect(page.locator("#tpl-LoopCount")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#tpl-LoopCount-error")).to_have_text(expected.message)
    page.get_by_label("Loop count").fill("3")
    page.get_by_role("button", name="Create template").click()
    notice = page.locator("#templates-notice")
    expect(notice).to_contain_text("Created template")
    definition = int(notice.inner_text().split()[-1].rstrip("."))
    row = page.locator(f'#templates-table tr[data-definition="{definition}"]')
    expect(row.locator("td.loop")).to_have_text("PingPong \u00d73")

    row.get_by_role("link", name=f"Edit template {definition}").click()
    expect(page.get_by_label("Loop mode")).to_have_value("PingPong")
    expect(page.get_by_label("Loop count")).to_have_value("3")
    _shot(page, "10-loop-template")

    page.get_by_role("link", name="Media files").click()
    page.get_by_role("link", name="Process cockatoo").click()
    page.get_by_label("Ad-hoc animated images").check()
    entry = page.locator("[data-entry]").nth(0)
    entry.get_by_label("Template").select_option(str(definition))
    entry.get_by_label("Start offset (s)").fill("1")
    entry.get_by_label("End offset (s)").fill("2")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#task-status")).to_have_text("FINISH", timeout=120_000)
    card = page.locator('article.subtask[data-status="SUCCESS"]')
    expect(card.locator(".out-loop")).to_have_text("PingPong")
    url = card.locator("a.download").get_attribute("href")
    assert url
    with Image.open(io.BytesIO(httpx.get(url, timeout=10).content)) as picture:
        assert picture.info["loop"] == 2  # 3 plays
    _shot(page, "11-loop-task")


@pytest.mark.usefixtures("signed_in")
def test_formats_and_size_budget_in_the_template_form(page: Page, stack: Stack) -> None:
    """The six formats and the byte budget (contract §2.6) in the form: a bad budget and a
    LoopCount the format cannot store mark their fields; a preset name is kept as its bytes,
    shown in the list and, in words and bytes, when editing; emptied, the budget is gone."""
    page.get_by_role("link", name="Templates").click()
    formats = page.locator("#tpl-Format option").evaluate_all("els => els.map(e => e.value)")
    assert formats == list(FORMATS)
    presets = page.locator("#tpl-MaxSize-presets option").evaluate_all(
        "els => els.map(e => e.value)"
    )
    assert presets == list(SIZE_PRESETS)
    budget = page.get_by_label("Size budget")
    expect(budget).to_have_value("")  # no budget by default
    expect(page.locator("#tpl-MaxSize-hint")).to_contain_text("slack-emoji")
    page.get_by_label("Name").fill("console-budget")
    page.get_by_label("Fps").fill("5")
    budget.fill("2 parsecs")
    page.get_by_role("button", name="Create template").click()
    expected = _api_error(
        stack, "CreateAnimatedGraphicsTemplate", {"Fps": 5, "MaxSize": "2 parsecs"}
    )
    assert expected.code == "InvalidParameterValue.MaxSize"
    expect(budget).to_have_attribute("aria-invalid", "true")
    expect(budget).to_be_focused()
    expect(page.locator("#tpl-MaxSize-error")).to_have_text(expected.message)

    budget.fill("github")
    page.get_by_label("Format").select_option("webm")
    page.get_by_label("Loop count").fill("3")  # WebM cannot store a play count
    page.get_by_role("button", name="Create template").click()
    expect(page.locator("#tpl-LoopCount")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#tpl-LoopCount-error")).to_contain_text("webm")
    expect(budget).not_to_have_attribute("aria-invalid", "true")
    page.get_by_label("Loop count").fill("0")
    page.get_by_role("button", name="Create template").click()
    notice = page.locator("#templates-notice")
    expect(notice).to_contain_text("Created template")
    definition = int(notice.inner_text().split()[-1].rstrip("."))
    with _api(stack) as api:
        [saved] = api.call("DescribeAnimatedGraphicsTemplates", {"Definitions": [definition]})[
            "AnimatedGraphicsTemplateSet"
        ]
    assert saved["MaxSize"] == SIZE_PRESETS["github"].size == 10_000_000
    row = page.locator(f'#templates-table tr[data-definition="{definition}"]')
    expect(row.locator("td.budget")).to_have_text("10 MB")
    expect(page.locator('#templates-table tr[data-definition="20000"] td.budget')).to_have_text("-")

    row.get_by_role("link", name=f"Edit template {definition}").click()
    expect(budget).to_have_value("10 MB")
    expect(page.locator("#tpl-MaxSize-saved")).to_have_text("Saved: 10 MB (10000000 bytes)")
    _shot(page, "12-size-budget")
    budget.fill("")
    page.get_by_role("button", name="Save changes").click()
    expect(notice).to_contain_text(f"Saved template {definition}.")
    expect(row.locator("td.budget")).to_have_text("-")


@pytest.mark.usefixtures("cockatoo", "signed_in")
def test_fitted_outputs_play_on_the_task_page(page: Page, stack: Stack) -> None:
    """Outputs of templates with a MaxSize, a GIF and an MP4: the GIF plays in an <img>, the
    MP4 in a muted looping <video>, and each says what fitting it to the budget took (the Fps,
    Quality, Colors and Encodes its output reports)."""
    definitions = {}
    with _api(stack) as api:
        for fmt in ("gif", "mp4"):
            fields = {"Name": f"console-fit-{fmt}", "Format": fmt, "Fps": 10, "Width": 320}
            made = api.call("CreateAnimatedGraphicsTemplate", {**fields, "MaxSize": "150KB"})
            definitions[fmt] = made["Definition"]
    page.get_by_role("link", name="Media files").click()
    page.get_by_role("link", name="Process cockatoo").click()
    page.get_by_label("Ad-hoc animated images").check()
    for i, definition in enumerate(definitions.values()):
        if i:
            page.get_by_role("button", name="Add an image").click()
        entry = page.locator("[data-entry]").nth(i)
        choice = entry.get_by_label("Template")
        expect(choice.locator(f'option[value="{definition}"]')).to_contain_text("\u2264 150 KB")
        choice.select_option(str(definition))
        entry.get_by_label("Start offset (s)").fill("1")
        entry.get_by_label("End offset (s)").fill("3")
    page.get_by_role("button", name="Start").click()
    expect(page.locator("#task-status")).to_have_text("FINISH", timeout=120_000)
    task_id = page.get_by_role("heading", name="Task ").inner_text().split()[-1]
    with _api(stack) as api:
        detail = api.call("DescribeTaskDetail", {"TaskId": task_id})
    results = [r["AnimatedGraphicTask"] for r in detail["ProcedureTask"]["MediaProcessResultSet"]]
    assert [r["Status"] for r in results] == ["SUCCESS", "SUCCESS"], results
    cards = page.locator("article.subtask")
    for card, result, fmt in zip(cards.all(), results, definitions, strict=True):
        out = result["Output"]
        assert out["Container"] == fmt and out["Url"].endswith(f".{fmt}")
        assert out["Size"] <= 150_000 and out["Encodes"] >= 1
        if fmt == "gif":
            player = card.locator("img.output")
            loaded = "img => img.complete && img.naturalWidth > 0"
        else:
            player = card.locator("video.output")
            assert player.get_attribute("loop") == "" and player.get_attribute("muted") == ""
            loaded = "v => v.muted && v.loop && v.readyState >= 2 && v.videoWidth > 0 && !v.paused"
        assert player.get_attribute("src") == out["Url"]
        page.wait_for_function(loaded, arg=player.element_handle())  # it plays
        colours = f"{out['Colors']} colours, " if "Colors" in out else ""
        encodes = f"{out['Encodes']} encode{'s' if out['Encodes'] != 1 else ''}"
        expect(card.locator(".out-fit")).to_have_text(
            f"fitted to 150 KB: Quality {out['Quality']:g}, {out['Fps']} fps, "
            f"{out['Width']}\u00d7{out['Height']}, {colours}{encodes}"
        )
    assert "Colors" in results[0]["Output"] and "Colors" not in results[1]["Output"]
    _shot(page, "13-fitted-outputs")


def test_console_endpoints_are_guarded(stack: Stack) -> None:
    base = f"{stack.endpoint}/console"
    with httpx.Client(base_url=base) as http:
        assert http.get("/api/templates").json()["Error"]["Code"] == "AuthFailure.SessionRequired"
        assert http.get("/api/templates").status_code == 401
        login = {"Password": PASSWORD}
        refused = http.post("/api/login", json=login)  # no console header: a cross-site form
        assert refused.status_code == 403
        assert refused.json()["Error"]["Code"] == "AuthFailure.ConsoleHeader"
        signed = http.post("/api/login", json=login, headers=HEADER)
        assert signed.status_code == 200
        assert "animgraph_console" in http.cookies
        assert http.get("/api/templates").status_code == 200
        no_header = http.post("/api/templates", json={"Fps": 5})
        assert no_header.status_code == 403
        bad = http.post("/api/templates", json={"Fps": 61}, headers=HEADER)
        same = _api_error(stack, "CreateAnimatedGraphicsTemplate", {"Fps": 61})
        assert bad.status_code == 400
        assert bad.json()["Error"] == {"Code": same.code, "Message": same.message}
        unknown_flow = http.post(
            "/api/upload?Procedure=nope&FileName=a.mp4", content=b"x", headers=HEADER
        )
        assert unknown_flow.json()["Error"]["Code"] == "InvalidParameterValue.Procedure"
        assert http.post("/api/logout", headers=HEADER).status_code == 200
    with httpx.Client(base_url=base) as http:
        # The key pair signs in too; a wrong one does not.
        wrong = http.post(
            "/api/login", json={"SecretId": SECRET_ID, "SecretKey": "nope"}, headers=HEADER
        )
        assert wrong.status_code == 401
        pair = {"SecretId": SECRET_ID, "SecretKey": SECRET_KEY}
        assert http.post("/api/login", json=pair, headers=HEADER).status_code == 200
        session = http.get("/api/session").json()
        assert session["SignedIn"] and session["User"] == SECRET_ID
        cookie = http.cookies["animgraph_console"]
        http.post("/api/logout", headers=HEADER)
        replay = httpx.get(f"{base}/api/media", cookies={"animgraph_console": cookie})
        assert replay.status_code == 401  # a signed-out session is gone server-side
    # No secret is ever sent to the browser.
    page_html = httpx.get(f"{base}/")
    assert "default-src 'self'" in page_html.headers["content-security-policy"]
    assert page_html.headers["x-frame-options"] == "DENY"
    served = page_html.text + "".join(
        httpx.get(f"{base}/{name}").text for name in ("console.js", "console.css")
    )
    served += httpx.get(f"{base}/api/session").text
    for secret in (SECRET_KEY, PASSWORD):
        assert secret not in served
    assert httpx.get(base).status_code == 308
