"""Paths typed into the page (a checkpoint, the audit's folder, the dataset view's folder) are read only where the
server allows: any path on 127.0.0.1, none when it serves a network, or only under --server-paths DIR. An operations
review had listed a server's folders and learnt which paths exist, from another machine, through these boxes."""
import pytest

from app import server_paths
from app.cli import read_auth
from app.server_paths import Policy, configure, is_loopback, server_path
from app.views import audit, cycle, models


@pytest.fixture(autouse=True)
def restore_policy(monkeypatch):
    monkeypatch.setattr(server_paths, "_policy", server_paths._policy)      # each test's configure undone


def test_loopback_hosts_are_this_machine_alone():
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.0.1.1", "::1", "[::1]", "localhost", "LOCALHOST"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.0.2.2", "::", "example.org"))


def test_on_this_machine_alone_any_path_is_read(tmp_path):
    assert "any file" in configure("127.0.0.1", None)
    assert server_path(f" {tmp_path} ", "box") == tmp_path


def test_serving_a_network_reads_no_path_and_says_the_same_of_one_that_exists_and_one_that_does_not(tmp_path):
    assert "refused" in configure("0.0.0.0", None)
    said = []
    for path in (tmp_path, tmp_path / "no such folder", "/etc/passwd"):
        with pytest.raises(ValueError) as e:
            server_path(str(path), "The audit's folder")
        said.append(str(e.value).replace(str(path), "PATH"))
    assert said[0].startswith("The audit's folder: this server reads no paths") and len(set(said)) == 1


def test_under_server_paths_only_that_folder_is_read_links_followed_and_no_lookup_before_the_check(tmp_path):
    root, outside = tmp_path / "shared", tmp_path / "private"
    (root / "clips").mkdir(parents=True)
    outside.mkdir()
    (root / "way_out").symlink_to(outside)
    (outside / "into").symlink_to(root / "clips")           # outside, pointing in: refused as typed
    (outside / "loop").symlink_to(outside / "loop")         # a loop had raised RuntimeError ('Something went wrong')
    (root / "loop").symlink_to(root / "loop")
    assert str(root) in configure("0.0.0.0", str(root))
    assert server_path(str(root / "clips"), "box") == root / "clips"
    assert server_path("clips", "box") == root / "clips"                       # relative: under the root
    assert server_path(str(root / "not yet"), "box") == root / "not yet"       # under it: the view says it is missing
    said = set()
    # '~nosuchuser' had raised 'Could not determine home directory' where '~root' was refused: which accounts exist;
    # a '..' after a link had told links apart
    for escape in (outside, root / "way_out", root / ".." / "private", outside / "nothing", "~nosuchuser/x", "~root",
                   f"{root}/clips/../../private", "/bin/../etc", outside / "into", outside / "loop" / "x",
                   root / "loop" / "x"):
        with pytest.raises(ValueError, match=f"is not a path under {root}, the only folder this server reads from") as e:
            server_path(str(escape), "box")
        said.add(str(e.value).replace(str(escape), "PATH"))
    assert len(said) == 1                                   # the same words, whether the path exists or not
    with pytest.raises(ValueError, match="is not a folder"):
        configure("127.0.0.1", str(tmp_path / "missing"))


def test_a_login_or_none_closes_the_boxes_on_this_machine_too(tmp_path):
    """Behind a reverse proxy (which forwards to 127.0.0.1) a login means remote users: the boxes had stayed open."""
    assert "it asks for a login" in configure("127.0.0.1", None, logins=True)
    with pytest.raises(ValueError, match="this server reads no paths"):
        server_path(str(tmp_path), "box")
    assert "--server-paths none" in configure("127.0.0.1", "none")
    with pytest.raises(ValueError, match="this server reads no paths"):
        server_path("~nosuchuser", "box")
    assert str(tmp_path) in configure("127.0.0.1", str(tmp_path), logins=True)     # a folder given: that folder
    assert server_path(str(tmp_path), "box") == tmp_path


def test_the_pages_three_path_boxes_follow_the_policy_and_say_so_beneath(tmp_path, monkeypatch):
    from app.layout import build
    assert server_paths.box_info() is None                                        # this machine alone: no note
    monkeypatch.setattr(server_paths, "_policy", Policy(open=False, root=None))
    assert server_paths.box_info() == "This server reads no paths on its machine: upload files instead."
    monkeypatch.setattr(server_paths, "_policy", Policy(open=False, root=tmp_path / "allowed"))
    info = f"A path under {tmp_path / 'allowed'} (the only folder this server reads from), or relative to it."
    page = build(())
    boxes = [c for c in page.blocks.values() if type(c).__name__ == "Textbox" and getattr(c, "info", None) == info]
    assert len(boxes) == 4                                 # the two checkpoint paths, the dataset and audit folders
    outside = str(tmp_path / "elsewhere")
    with pytest.raises(ValueError, match="The JEPA checkpoint path: .* is not a path under"):
        models.pick("jepa-small", outside, "jepa")
    assert models.pick("jepa-small", "", "jepa") == "jepa-small"                # the dropdown: the server's own list
    with pytest.raises(ValueError, match="The audit's folder: .* is not a path under"):
        audit.run(None, outside, {})
    with pytest.raises(ValueError, match="The dataset view's folder: .* is not a path under"):
        cycle.dataset_figures(outside, {})


def test_an_auth_file_gives_logins_and_a_bad_one_is_refused_by_line(tmp_path):
    good = tmp_path / "logins"
    good.write_text("# teaching group\nana:s3cret\n\nbo:pass:with:colons\n")
    assert read_auth(str(good)) == [("ana", "s3cret"), ("bo", "pass:with:colons")]
    for text, match in (("ana\n", "line 1: write 'user:password'"), ("\n# nobody\n", "names nobody"),
                        ("ana:\n", "line 1"), (":pw\n", "line 1")):
        good.write_text(text)
        with pytest.raises(ValueError, match=match):
            read_auth(str(good))
    with pytest.raises(ValueError, match="cannot be read"):
        read_auth(str(tmp_path / "missing"))


def test_the_command_line_closes_the_boxes_for_a_login_or_none_and_opens_them_only_on_this_machine(tmp_path):
    from app.cli import access, parser
    logins = tmp_path / "logins"
    logins.write_text("ana:s3cret\n")
    for argv, policy in (([], Policy()), (["--auth-file", str(logins)], Policy(open=False, root=None)),
                         (["--server-paths", "none"], Policy(open=False, root=None)),
                         (["--host", "0.0.0.0"], Policy(open=False, root=None)),
                         (["--auth-file", str(logins), "--server-paths", str(tmp_path)], Policy(open=False, root=tmp_path))):
        access(parser().parse_args(argv))
        assert server_paths._policy == policy, argv


def test_a_path_holding_a_nul_character_is_refused_by_its_box_whatever_the_policy(tmp_path):
    """It gave the bare 'embedded null byte', naming no box."""
    for host, root in (("127.0.0.1", None), ("0.0.0.0", str(tmp_path))):
        configure(host, root)
        with pytest.raises(ValueError, match=r"^The audit's folder: the path typed holds a NUL character"):
            server_path(f"{tmp_path}/clips\x00x", "The audit's folder")
