"""The web UI in a real browser: Debian's chromium driven by Playwright against a real server.

The server runs in this process (uvicorn in a thread, :class:`stackflow.api.server.ApiServer`)
on a free loopback port over a SQLite home under a temp folder, with the UI mounted. The
example stack (examples/app.stack.yaml, copied with its workflow file) is deployed and the
stack's workflow is started through the HTTP API; the browser then watches the execution's
states turn green, reads a state's output, and keeps screenshots under tests/e2e/artifacts/
(git-ignored).

chromium comes from Debian (``make browser`` installs it); Playwright's own browser download
is not used. Without chromium (or Playwright) the tests skip, except in CI (``CI=true``) where
that is a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx2
import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
STACK = "orders-app"
WORKFLOW = f"{STACK}-orders"
#: Every state of examples/orders.asl.yaml that a run with examples/orders.input.json passes.
PASSED = ["PriceLines", "Price", "Checks", "Stock", "Invoice", "InStock?", "Notify", "Summary"]
#: Light green of a succeeded state (style.css --good-bg).
GREEN = "rgb(220, 252, 231)"
TIMEOUT_MS = 30_000
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def chromium_path() -> str:
    """Return Debian's chromium, or skip (fail in CI) when it is not installed."""
    path = shutil.which("chromium")
    if path is None:
        _unavailable(
            "chromium is not installed: run `make browser` (as root) or apt-get install chromium"
        )
    assert path is not None
    return path


@dataclass
class Running:
    """The server under test."""

    url: str
    execution: str
    project: Path


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """A loopback server with the UI, the example stack deployed and one finished execution."""
    from stackflow.api.app import create_app
    from stackflow.api.auth import AuthConfig
    from stackflow.api.server import ApiServer
    from stackflow.api.ui import mount_ui
    from stackflow.engine import Engine

    root = tmp_path_factory.mktemp("ui")
    project = root / "project"
    project.mkdir()
    for name in ("app.stack.yaml", "orders.asl.yaml", "orders.input.json"):
        shutil.copy(EXAMPLES / name, project / name)
    with pytest.MonkeyPatch.context() as patch:
        # python:stack_hooks:greeting and python:orders:* come from examples/.
        patch.syspath_prepend(str(EXAMPLES))
        engine = Engine.open(root / "home", durability="normal")
        app = create_app(engine, auth=AuthConfig.for_bind("127.0.0.1", engine.store.tokens))
        mount_ui(app)
        server = ApiServer(app, "127.0.0.1", 0).start()
        try:
            api = f"{server.url}/api/v1"
            applied = httpx2.post(
                f"{api}/stacks/{STACK}/apply",
                json={"template_path": str(project / "app.stack.yaml")},
                timeout=60,
            )
            assert applied.status_code == 200, applied.text
            assert applied.json()["StackStatus"] == "CREATE_COMPLETE", applied.text
            order = json.loads((project / "orders.input.json").read_text())
            started = httpx2.post(
                f"{api}/executions",
                json={"workflow": WORKFLOW, "input": order, "name": "ui-browser-test"},
                timeout=30,
            )
            assert started.status_code == 201, started.text
            yield Running(server.url, started.json()["execution"], project)
        finally:
            server.stop()
            engine.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, headless, through Playwright."""
    executable = chromium_path()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[test]'")
        raise
    with sync_playwright() as playwright:
        # --no-sandbox: chromium refuses to start as root (containers, CI) with its sandbox.
        launched = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A laptop-sized page; JavaScript errors fail the test; a screenshot is kept at the end."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(f"page error: {exc}"))

    def console(message: Any) -> None:
        # A 404 of a route this server lacks is expected (the page says "not available").
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            errors.append(f"console {message.type}: {message.text}")

    opened.on("console", console)
    try:
        yield opened
        assert errors == [], errors
    finally:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        opened.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"), full_page=True)
        context.close()


def node(page: Page, state: str) -> Any:
    """The graph node of a state."""
    return page.locator(f'svg.graph .node[data-state="{state}"]')


@pytest.mark.slow
def test_execution_turns_green_and_shows_state_output(
    page: Page, running: Running, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    page.goto(f"{running.url}/executions/{running.execution}")
    expect(page.locator("h1")).to_contain_text("ui-browser-test", timeout=TIMEOUT_MS)

    # Every state the order passes turns green; the Fail state of the other branch does not.
    for state in PASSED:
        expect(node(page, state)).to_have_class(re.compile(r"\bst-succeeded\b"), timeout=TIMEOUT_MS)
    expect(node(page, "Summary").locator(".shape")).to_have_css("fill", GREEN)
    expect(node(page, "Backorder")).to_have_class(re.compile(r"\bst-not_started\b"))
    expect(page.locator("#exec-status")).to_have_attribute("data-status", "SUCCEEDED")
    expect(page.locator("#stop-button")).to_be_disabled()
    expect(page.locator("#redrive-button")).to_be_disabled()

    # Parallel and Map are drawn as groups holding their lanes.
    expect(node(page, "Checks")).to_have_class(re.compile(r"\bgroup\b"))
    expect(page.locator("svg.graph .lane.kind-branch")).to_have_count(2)
    expect(page.locator("svg.graph .lane.kind-processor")).to_have_count(1)

    # Clicking a state shows its output.
    node(page, "Summary").click()
    expect(page.locator("#state-name")).to_contain_text("Summary")
    output = page.locator("#state-output")
    expect(output).to_contain_text('"customer": "ACME GmbH"')
    expect(output).to_contain_text('"amount": 8.4')
    expect(output).to_contain_text('"lines": 3')

    # Enter on the focused node does the same (keyboard use).
    node(page, "Notify").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#state-name")).to_contain_text("Notify")
    expect(page.locator("#state-output")).to_contain_text("invoice ready")

    # The history table has the whole run.
    rows = page.locator("#history-rows tr")
    expect(rows.last).to_have_attribute("data-type", "ExecutionSucceeded", timeout=TIMEOUT_MS)
    expect(page.locator('#history-rows tr[data-type="TaskStateEntered"]').first).to_be_visible()

    shot = tmp_path / "execution.png"
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "execution.png")


@pytest.mark.slow
def test_start_form_validates_json_and_starts_an_execution(page: Page, running: Running) -> None:
    from playwright.sync_api import expect

    page.goto(f"{running.url}/workflows/{WORKFLOW}")
    expect(node(page, "PriceLines")).to_be_visible(timeout=TIMEOUT_MS)
    box = page.get_by_label("Input (JSON)")
    box.fill('{"customer": "Bad",\n  "lines": [}')
    expect(page.locator(".field-error")).to_contain_text("line 2")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_role("button", name="Start execution")).to_be_disabled()

    box.fill((running.project / "orders.input.json").read_text())
    expect(box).to_have_attribute("aria-invalid", "false")
    page.get_by_label("Execution name (optional)").fill("started-from-the-ui")
    page.get_by_role("button", name="Start execution").click()

    expect(page).to_have_url(re.compile(r"/executions/[^/]+$"), timeout=TIMEOUT_MS)
    expect(page.locator("h1")).to_contain_text("started-from-the-ui", timeout=TIMEOUT_MS)
    expect(node(page, "Summary")).to_have_class(re.compile(r"\bst-succeeded\b"), timeout=TIMEOUT_MS)

    # The executions list filters by status.
    page.get_by_role("link", name="Executions", exact=True).first.click()
    expect(page.locator("table.data")).to_contain_text("started-from-the-ui", timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Failed", exact=True).click()
    expect(page.get_by_role("button", name="Failed", exact=True)).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(page.locator(".results")).to_contain_text("No execution matches", timeout=TIMEOUT_MS)
    assert "status=FAILED" in page.url


@pytest.mark.slow
def test_stack_page_masks_noecho_and_lists_resources(page: Page, running: Running) -> None:
    from playwright.sync_api import expect

    page.goto(f"{running.url}/stacks/{STACK}")
    expect(page.locator("#stack-status")).to_contain_text("CREATE COMPLETE", timeout=TIMEOUT_MS)
    main = page.locator("main")
    for logical_id in ("DataDir", "Config", "Database", "Orders", "Greeting"):
        expect(main).to_contain_text(logical_id)
    expect(page.locator("#stack-events tr").first).to_be_visible()
    expect(main).to_contain_text("Hello, demo!")
    expect(main).to_contain_text("ApiToken")
    assert "demo-token-not-secret" not in page.content()

    page.get_by_role("button", name="Detect drift").click()
    expect(page.locator("#drift")).to_contain_text("IN SYNC", timeout=TIMEOUT_MS)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(ARTIFACTS / "stack.png"), full_page=True)


@pytest.mark.slow
def test_pages_without_api_say_not_available(page: Page, running: Running) -> None:
    from playwright.sync_api import expect

    for path, heading in (("/services", "Services"), ("/schedules", "Schedules")):
        page.goto(f"{running.url}{path}")
        expect(page.locator("h1")).to_have_text(heading, timeout=TIMEOUT_MS)
        answer = httpx2.get(f"{running.url}/api/v1{path}")
        if answer.status_code == 404:
            expect(page.locator(".notice-unavailable")).to_contain_text("not available")
        else:
            expect(page.locator("section.panel")).to_be_visible()
