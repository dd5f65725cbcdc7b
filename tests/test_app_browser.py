"""The app in headless Chromium (Debian's, through Playwright): upload a clip, wait for every view
to render, check that the videos play, and that a bad upload shows an error while the page goes on.
Screenshots land in assets/screenshots/ (the README shows them)."""
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[1] / "assets" / "screenshots"
EXAMPLES = Path(__file__).resolve().parents[1] / "assets" / "examples"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def page(app_server):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(app_server[0])
        page.get_by_role("tab", name="Upload", exact=True).click()
        page.locator("#upload input[type=file]").set_input_files(str(EXAMPLES / "adult_normal.npz"))
        page.locator("#pred-jepa").get_by_text("EF", exact=False).first.wait_for()
        yield page
        browser.close()


def shot(page, name: str, errors_expected: bool = False) -> Path:
    """Screenshot the page; a view that rendered beside an error message (a handler that failed, e.g. the
    model cards on load) fails the test unless the test provoked the error."""
    if not errors_expected:
        errors = page.locator(".toast-body.error").all_inner_texts()
        assert not errors, errors
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def video_plays(page, selector: str) -> bool:
    """The video element has data and its clock advances."""
    video = page.locator(f"{selector} video").first
    video.wait_for()
    page.wait_for_function("(v) => v.readyState >= 2", arg=video.element_handle())
    t0 = video.evaluate("v => { v.muted = true; v.play(); return v.currentTime; }")
    page.wait_for_timeout(800)
    return video.evaluate("v => v.currentTime") != t0


def test_predictions_and_clip_views_render_and_play(page):
    assert "Ground truth: 62.0%" in page.locator("#pred-jepa").inner_text()
    assert "not a measurement" in page.locator("#pred-mae").inner_text()
    assert video_plays(page, "#original") and video_plays(page, "#model-view")
    assert shot(page, "predictions").stat().st_size > 10_000


def test_degradation_sweep_draws_a_plot(page):
    page.get_by_role("tab", name="4 Degradation lab").click()
    page.get_by_role("button", name="Sweep severity").click()
    page.locator("#sweep-plot .js-plotly-plot").wait_for()
    assert page.locator("#sweep-plot .scatterlayer .trace").count() >= 2
    shot(page, "degradation")


def test_attention_overlays_play_and_show_focus(page):
    page.get_by_role("tab", name="2 Attention").click()
    page.locator("#attention-run").click()
    page.locator("#att-focus-jepa").get_by_text("focus ratio", exact=False).first.wait_for()
    assert video_plays(page, "#att-video-jepa") and video_plays(page, "#att-video-mae")
    # a frame typed into the scrubber's box shows that frame's maps
    first = page.locator("#att-frame-jepa img").get_attribute("src")
    page.locator("#att-scrubber input[type=number]").fill("10")
    page.locator("#att-scrubber input[type=number]").press("Enter")
    page.wait_for_function("s => { const i = document.querySelector('#att-frame-jepa img'); return i && i.src !== s; }",
                           arg=first)
    shot(page, "attention")
    # another colour scale redraws the maps shown: a new video and a new scrubbed frame, no error
    video = page.locator("#att-video-mae video").first.get_attribute("src")
    frame = page.locator("#att-frame-mae img").get_attribute("src")
    page.locator("#att-colours").get_by_label("viridis (purple, teal, yellow)").check()
    page.wait_for_function("([v, f]) => { const a = document.querySelector('#att-video-mae video'), "
                           "b = document.querySelector('#att-frame-mae img'); "
                           "return a && b && a.src && a.src !== v && b.src !== f; }", arg=[video, frame])
    assert video_plays(page, "#att-video-mae")
    assert not page.locator(".toast-body.error").all_inner_texts()
    # one choice for the page: the Degradation lab's box follows (its maps would be drawn in it)
    page.get_by_role("tab", name="4 Degradation lab").click()
    page.locator("#degrade-colours").get_by_label("viridis (purple, teal, yellow)").wait_for()
    assert page.locator("#degrade-colours").get_by_label("viridis (purple, teal, yellow)").is_checked()
    page.get_by_role("tab", name="2 Attention").click()


def test_cardiac_cycle_draws_both_trajectories(page):
    page.get_by_role("tab", name="3 Cardiac cycle").click()
    page.locator("#cycle-run").click()
    page.locator("#cycle-numbers").get_by_text("loop closure", exact=False).first.wait_for()
    for role in ("jepa", "mae"):
        page.locator(f"#cycle-plot-{role} .js-plotly-plot").wait_for()
        assert page.locator(f"#cycle-plot-{role} .scatterlayer .trace, #cycle-plot-{role} .gl-container").count() >= 1
    shot(page, "cardiac_cycle")


def test_latent_vs_pixel_views_render(page):
    page.get_by_role("tab", name="5 Latent vs pixel").click()
    page.locator("#latent-run").click()
    for k in range(4):
        plot = page.locator(f"#latent-plot-{k} .js-plotly-plot")
        plot.wait_for()
        # something drawn: an image, a heatmap or a line (Plotly renders each into its own layer)
        drawn = plot.locator(".imagelayer image, .heatmaplayer image, .scatterlayer .trace").count()
        assert drawn >= 1, f"latent plot {k} is empty"
    shot(page, "latent_vs_pixel")


def test_audit_of_uploads_gives_a_table_and_downloads(page):
    page.get_by_role("tab", name="6 Audit").click()
    page.locator("#audit-files input[type=file]").set_input_files(
        [str(EXAMPLES / "adult_normal.npz"), str(EXAMPLES / "pediatric.npz")])
    page.locator("#audit-run").click()
    page.locator("#audit-summary").get_by_text("2 clips", exact=False).first.wait_for()
    assert page.locator("#audit-table").get_by_text("adult_normal.npz").count() >= 1
    shot(page, "audit")
    # an audit that cannot run (files and a folder at once): nothing of the one before stays under the new inputs
    page.get_by_label("…or a folder on this machine").fill("/some/folder")
    page.locator("#audit-run").click()
    page.get_by_text("Both uploaded files and a folder were given", exact=False).first.wait_for()
    page.locator("#audit-summary").get_by_text("No audit shown", exact=False).wait_for()
    assert page.locator("#audit-table").get_by_text("adult_normal.npz").count() == 0
    page.get_by_label("…or a folder on this machine").fill("")
    page.wait_for_function("""() => {                              // read: the next tests start with none
        document.querySelectorAll("button.toast-close.error").forEach((close) => close.click());
        return document.querySelectorAll(".toast-body.error").length === 0; }""")


def test_evidence_tab_shows_the_table(page):
    page.get_by_role("tab", name="7 Models and evidence").click()
    page.get_by_text("EchoJEPA-L").first.wait_for()
    # every number of the 21-column benchmark table on one line (the table scrolls sideways instead)
    tallest, line = page.locator("#evidence table").first.evaluate(
        "t => [Math.max(...[...t.querySelectorAll('td')].map(c => c.getBoundingClientRect().height)),"
        " parseFloat(getComputedStyle(t.querySelector('td')).lineHeight)]")
    assert tallest < 2.5 * line, (tallest, line)
    # every recipe tried, drawn: a point per committed evaluation row (the count the scoreboard reads)
    from model_zoo.experiments.scoreboard import committed_rows
    page.locator("#recipes-plot .scatterlayer .point").first.wait_for()
    assert page.locator("#recipes-plot .scatterlayer .point").count() > len(committed_rows())
    shot(page, "evidence")


def test_emptying_the_upload_box_clears_its_clip_and_no_other(page):
    """The page's clip came from the upload box (the fixture's): emptying the box clears it; a clip generated
    since on the phantom tab stays when the box is emptied."""
    page.get_by_role("tab", name="1 Predictions").click()
    page.get_by_role("tab", name="Upload", exact=True).click()
    page.locator("#upload").get_by_label("Clear").first.click()
    page.locator("#clip-summary").get_by_text("removed from the upload box", exact=False).wait_for()
    cards = page.locator("#pred-jepa").inner_text() + page.locator("#pred-mae").inner_text()
    assert "EF" not in cards and cards.count("load a clip above") == 2      # what they say before any clip
    page.get_by_role("tab", name="2 Attention").click()          # a clip loaded on another tab opens its EFs
    page.locator("#upload input[type=file]").set_input_files(str(EXAMPLES / "adult_normal.npz"))
    page.locator("#pred-jepa").get_by_text("Ground truth: 62.0%").wait_for()      # visible: tab 1 is open
    assert page.get_by_role("tab", name="1 Predictions").get_attribute("aria-selected") == "true"
    page.get_by_role("tab", name="Phantom", exact=True).click()
    page.get_by_label("Seed", exact=True).fill("4000000")  # a seed of the test split: said before generating
    page.get_by_label("Seed", exact=True).press("Tab")
    page.locator("#phantom-note").get_by_text("draws the anatomy of a heart in the EF probes' test split",
                                              exact=False).wait_for()
    page.get_by_role("button", name="Generate phantom clip").click()
    page.locator("#clip-summary").get_by_text("phantom clip", exact=False).wait_for()
    page.locator("#pred-jepa").get_by_text("Ground truth: 60", exact=False).wait_for()
    page.get_by_role("tab", name="Upload", exact=True).click()
    page.locator("#upload").get_by_label("Clear").first.click()
    page.wait_for_timeout(1500)
    assert "phantom clip" in page.locator("#clip-summary").inner_text()
    assert "Ground truth: 60" in page.locator("#pred-jepa").inner_text()


def test_a_zip_of_frames_uploads_as_a_clip(page, tmp_path):
    """Frames exported as images come through the one-file upload box as a ZIP of their folder, fps.txt beside them."""
    import numpy as np

    from builders import frames_zip
    with np.load(EXAMPLES / "adult_normal.npz") as saved:
        frames, fps = saved["frames"], float(saved["fps"])
    frames_zip(tmp_path / "exported_frames.zip", {**{f"exported/{k:04d}.png": f for k, f in enumerate(frames)},
                                                  "exported/fps.txt": f"{fps}"})
    page.get_by_role("tab", name="Upload", exact=True).click()
    clear = page.locator("#upload").get_by_label("Clear")
    if clear.count():                                   # a file left in the box by a test before: it hides the input
        clear.first.click()
    page.locator("#upload input[type=file]").set_input_files(str(tmp_path / "exported_frames.zip"))
    page.locator("#clip-summary").get_by_text("exported_frames.zip", exact=False).wait_for()
    assert f"{fps:.1f} fps" in page.locator("#clip-summary").inner_text()
    page.locator("#pred-jepa").get_by_text("EF", exact=False).first.wait_for()
    assert page.locator(".toast-body.error").count() == 0


# Last on purpose: an error stays until closed or until the next button press, on the page every test above
# shares (this one reloads it first)
def test_a_bad_upload_shows_an_error_and_the_page_goes_on(page, tmp_path):
    junk = tmp_path / "not_a_clip.avi"
    junk.write_bytes(b"this is text, not video")
    page.reload()                                   # a fresh session: the upload box is empty again
    page.locator("#load-example").wait_for()          # a page opens on the examples: one click to a result
    assert page.get_by_role("tab", name="Example", exact=True).get_attribute("aria-selected") == "true"
    page.get_by_role("tab", name="Example", exact=True).click()
    page.locator("#load-example").click()
    page.locator("#pred-jepa").get_by_text("Ground truth: 62.0%").wait_for()
    page.get_by_role("tab", name="Upload", exact=True).click()
    page.locator("#upload input[type=file]").set_input_files(str(junk))
    error = page.get_by_text("its content is text: not a format EchoLens reads", exact=False).first
    error.wait_for()
    assert "not_a_clip.avi" in error.inner_text()
    assert page.locator(".toast-body.error").count() >= 1      # what shot() looks for in every other view
    # nothing of the clip before stays beside the bad file's name: its EF would read as this file's
    page.locator("#clip-summary").get_by_text("No clip loaded", exact=False).wait_for()
    assert "adult_normal" not in page.locator("#clip-summary").inner_text()
    cards = page.locator("#pred-jepa").inner_text() + page.locator("#pred-mae").inner_text()
    assert "EF" not in cards and cards.count("load a clip above") == 2      # what they say before any clip
    page.wait_for_timeout(1000)        # the toast fades in: a screenshot at once caught it faint or not yet drawn
    shot(page, "bad_upload", errors_expected=True)
    page.get_by_role("tab", name="Example", exact=True).click()
    assert page.locator(".toast-body.error").count() >= 1      # switching tabs leaves an unread error be
    page.locator("#load-example").click()
    page.get_by_role("tab", name="1 Predictions").click()
    page.locator("#pred-jepa").get_by_text("Ground truth: 62.0%").wait_for()
    assert page.locator(".toast-body.error").count() == 0      # the next action closed the old error
