"""explain.analysis.pair.load_model from several threads at once: the server's warm-up and the first page load both
ask for the shipped pair while neither is cached yet."""
import functools
import threading
import time

from explain.analysis import pair


def test_two_callers_that_miss_the_cache_at_once_load_the_model_once(monkeypatch, tmp_path):
    """lru_cache lets two callers that miss at the same moment both run the load (the warm-up thread and the first
    page load took twice the time and memory at start); the second must wait for the first's model."""
    calls = []

    class Loaded:                                  # load_model keeps a weak reference to what it loaded
        pass

    @functools.lru_cache(maxsize=8)
    def slow_load(name_or_path, role, device, frames, stamp):
        calls.append(name_or_path)
        time.sleep(0.3)
        return Loaded()

    monkeypatch.setattr(pair, "_load_model", slow_load)
    where = str(tmp_path / "model")                # a path of its own: no other test's key
    got = []
    threads = [threading.Thread(target=lambda: got.append(pair.load_model(where, "jepa"))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [where] and len(got) == 3 and got[0] is got[1] is got[2]


def test_a_finished_load_leaves_no_lock_behind(monkeypatch, tmp_path):
    """Each load key (its files' stamp among it) had a lock kept for the server's life: a checkpoint rewritten while
    the page runs made a new key, and a lock, every time. Once loaded, the model is cached and the lock goes."""
    monkeypatch.setattr(pair, "_load_model", functools.lru_cache(maxsize=8)(lambda *key: type("Loaded", (), {})()))
    for i in range(3):
        pair.load_model(str(tmp_path / f"model{i}"), "jepa")
    assert not [k for k in pair._loading if str(tmp_path) in str(k[0])]
