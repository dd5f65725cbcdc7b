"""The launched app through its public API (gradio_client): a prediction on an example clip, a bad
upload answered with a message while the server goes on serving, and a clean shutdown."""
import re
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError, AuthenticationError

from tests.conftest import launched_app


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server[0], verbose=False)


def test_an_example_clip_gets_an_ef_from_both_models(client):
    original, seen, meta, summary = client.predict("adult_normal", api_name="/load_example")
    assert meta["ground_truth_ef"] == 62.0 and "62.0%" in summary
    jepa, mae = client.predict(api_name="/load_example_predict")
    for card, name in ((jepa, "jepa-small"), (mae, "mae-small")):
        ef = float(re.search(r"\*\*EF ([\d.]+)%\*\*", card).group(1))
        assert name in card and 5 < ef < 95 and "not a measurement" in card


def test_a_bad_upload_is_refused_by_name_and_the_server_goes_on(client, tmp_path):
    junk = tmp_path / "broken_scan.mp4"
    junk.write_bytes(b"\x00garbage" * 50)
    with pytest.raises(AppError, match="broken_scan.mp4"):
        client.predict(handle_file(str(junk)), api_name="/upload")
    meta = client.predict("pediatric", api_name="/load_example")[2]
    assert meta["population"] == "pediatric" if "population" in meta else meta["ground_truth_ef"] == 64.0


def test_the_media_folder_and_the_uploads_go_when_the_server_stops(tmp_path):
    """Stopped with SIGTERM (as a service manager stops it), the server left Gradio's copy of every upload (a
    user's clip) in its temporary folder; Ctrl-C removed them. Now nothing of it stays there."""
    from echo.phantom import render_clip
    from echo.writers import write_npz
    log, uploads = tmp_path / "server.log", tmp_path / "gradio"
    clip = write_npz(tmp_path / "patient_clip.npz", render_clip(3, "adult", n_frames=40, size=112, fps=50))
    with launched_app(log, GRADIO_TEMP_DIR=str(uploads)) as (url, proc):
        media = Path(re.search(r"media folder \(removed at exit\): (\S+)", log.read_text()).group(1))
        client = Client(url, verbose=False)
        client.predict("adult_normal", api_name="/load_example")
        client.predict(handle_file(str(clip)), False, api_name="/upload")
        assert any(media.iterdir()) and list(uploads.rglob("patient_clip.npz"))
    assert proc.returncode == 0 and not media.exists()
    assert not list(uploads.rglob("patient_clip.npz"))
    # nor Gradio's copies of the videos it served, its empty temporary files and folders: its folder was this
    # process's own (they had stayed: ten MP4s of uploaded clips, 110 empty files, 51 folders)
    assert list(uploads.iterdir()) == []


def test_a_server_with_logins_and_one_allowed_folder_refuses_the_rest_and_logs_each_event(tmp_path):
    """--auth-file asks for a login (the API too), --server-paths lets the page's path boxes read one folder, and
    the server's log has a timed line for each event, refusals with their reason (it had none)."""
    logins, allowed = tmp_path / "logins", tmp_path / "allowed"
    logins.write_text("ana:s3cret\n")
    allowed.mkdir()
    log = tmp_path / "server.log"
    with launched_app(log, ("--auth-file", str(logins), "--server-paths", str(allowed))) as (url, proc):
        with pytest.raises(AuthenticationError, match="credentials were not provided"):
            Client(url, verbose=False)                                                     # no login
        with pytest.raises(ValueError, match="Could not login"):
            Client(url, auth=("ana", "wrong"), verbose=False)
        client = Client(url, auth=("ana", "s3cret"), verbose=False)
        assert client.predict("adult_normal", api_name="/load_example")[2]["ground_truth_ef"] == 62.0
        with pytest.raises(AppError, match=f"is not a path under {allowed}"):
            client.predict(None, str(tmp_path), api_name="/audit")
    text = log.read_text()
    assert f"Paths typed into the page (checkpoints, audit and dataset folders) must lie under {allowed}" in text
    assert "Loading weights" not in text                                               # no progress bars in the log
    # what it serves from and whether it asks for a login: timed lines of the record on stderr, as the README says
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO Login required: 1 user\(s\) from ", text, re.M)
    assert re.search(r"^\d{4}-\d\d-\d\d [\d:,]+ INFO Paths typed into the page", text, re.M)
    assert re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ INFO on_example done in \d+\.\d s$", text, re.M)
    assert re.search(rf"INFO on_audit refused after \d+\.\d s: The audit's folder: '{tmp_path}' is not a path", text)
    assert proc.returncode == 0
