"""The one rule behind every cache (hwbuild/stamp.py): settings, plus the hash of every file a
step read and wrote; and the reasons a step is outdated, in words a user can act on."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from hwbuild.fsutil import sha256_bytes
from hwbuild.stamp import (
    CHANGED_WHILE_READ,
    FileHashes,
    Stamp,
    listing_digest,
    record_reads,
    stamp_key,
    why_outdated,
)

SETTINGS: dict[str, Any] = {"seed": 0, "device": "cpu",
                            "libraries": {"python": "3.11.7", "numpy": "2.4.6"}}


def sha(data: str) -> str:
    return sha256_bytes(data.encode())


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "a.txt").write_text("a\n")
    (tmp_path / "data" / "b.txt").write_text("b\n")
    (tmp_path / "out.pdf").write_text("pdf\n")
    return tmp_path


def stamp_of(root: Path, **changes: Any) -> Stamp:
    """A stamp that is up to date with ``root`` as the fixture wrote it."""
    hashes = FileHashes(root)
    inputs = {key: hashes(key) for key in ("data/a.txt", "data/b.txt", "data/")}
    fields: dict[str, Any] = {"settings": dict(SETTINGS), "inputs": inputs,
                              "outputs": {"out.pdf": hashes("out.pdf")}}
    fields.update(changes)
    return Stamp(**fields)


# -- why_outdated ----------------------------------------------------------------------------


def test_an_intact_stamp_is_up_to_date(root: Path) -> None:
    assert why_outdated(stamp_of(root), SETTINGS, FileHashes(root)) == []


def test_never_built(root: Path) -> None:
    assert why_outdated(None, SETTINGS, FileHashes(root)) == ["never built"]


@pytest.mark.parametrize(("change", "reason"), [
    ({"seed": 1}, "seed changed (0 -> 1)"),
    ({"device": "cuda"}, "device changed (cpu -> cuda)"),
    ({"libraries": {"python": "3.11.7", "numpy": "2.5.0"}},
     "libraries changed (numpy 2.4.6 -> 2.5.0)"),
    ({"libraries": {"python": "3.11.7", "numpy": "2.4.6", "torch": "2.13.0"}},
     "libraries changed (torch none -> 2.13.0)"),
    ({"libraries": {"python": "3.11.7"}}, "libraries changed (numpy 2.4.6 -> none)"),
    ({"engine": "abc"}, "engine changed"),  # a new setting: there is no old value to show
    ({"seed": "x" * 41}, "seed changed"),  # too long to show
])
def test_each_settings_change_names_old_and_new(root: Path, change: dict[str, Any],
                                                reason: str) -> None:
    assert why_outdated(stamp_of(root), {**SETTINGS, **change}, FileHashes(root)) == [reason]


def test_a_setting_that_is_gone_is_a_change(root: Path) -> None:
    settings = {k: v for k, v in SETTINGS.items() if k != "seed"}
    assert why_outdated(stamp_of(root), settings, FileHashes(root)) == ["seed changed"]


def test_many_changes_in_one_setting_are_summed_up(root: Path) -> None:
    old = {f"k{i}": i for i in range(6)}
    new = {f"k{i}": i + 1 for i in range(6)}
    stamp = stamp_of(root, settings={"values": old})
    assert why_outdated(stamp, {"values": new}, FileHashes(root)) == [
        "values changed (k0 0 -> 1, k1 1 -> 2, k2 2 -> 3, k3 3 -> 4 and 2 more)"]


def test_input_changed(root: Path) -> None:
    (root / "data" / "a.txt").write_text("A\n")
    assert why_outdated(stamp_of(root, inputs={"data/a.txt": sha("a\n")}), SETTINGS,
                        FileHashes(root)) == ["data/a.txt changed"]


def test_input_deleted(root: Path) -> None:
    stamp = stamp_of(root)
    (root / "data" / "b.txt").unlink()
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == [
        "data/ changed", "data/b.txt was deleted"]


def test_input_that_changed_during_the_last_build(root: Path) -> None:
    stamp = stamp_of(root, inputs={"data/a.txt": CHANGED_WHILE_READ})
    # Whatever the file holds now, the step must be redone.
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == [
        "data/a.txt changed during the last build"]


def test_a_folder_listing_changes_when_a_file_is_added_not_when_one_is_edited(root: Path
                                                                             ) -> None:
    stamp = stamp_of(root, inputs={"data/": FileHashes(root)("data/")})
    (root / "data" / "a.txt").write_text("edited\n")
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == []
    (root / "data" / "c.txt").write_text("c\n")
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == ["data/ changed"]


def test_output_missing_or_changed(root: Path) -> None:
    stamp = stamp_of(root)
    (root / "out.pdf").write_text("someone else's\n")
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == [
        "its output out.pdf was changed by something else"]
    (root / "out.pdf").unlink()
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == ["its output out.pdf is missing"]
    assert why_outdated(stamp, SETTINGS, FileHashes(root), check_outputs=False) == []


def test_every_reason_is_listed_settings_then_inputs_then_outputs(root: Path) -> None:
    stamp = stamp_of(root)
    (root / "data" / "b.txt").write_text("B\n")
    (root / "data" / "a.txt").write_text("A\n")
    (root / "out.pdf").unlink()
    assert why_outdated(stamp, {**SETTINGS, "seed": 2, "device": "cuda"},
                        FileHashes(root)) == [
        "device changed (cpu -> cuda)", "seed changed (0 -> 2)",
        "data/a.txt changed", "data/b.txt changed", "its output out.pdf is missing"]


def test_an_input_outside_the_project_is_named_by_its_absolute_path(root: Path,
                                                                    tmp_path_factory:
                                                                    pytest.TempPathFactory
                                                                    ) -> None:
    outside = tmp_path_factory.mktemp("elsewhere") / "shared.sty"
    outside.write_text("x\n")
    key = stamp_key(outside, root)
    assert key == outside.as_posix() and key.startswith("/")
    assert stamp_key(root / "data" / "a.txt", root) == "data/a.txt"
    stamp = stamp_of(root, inputs={key: sha("x\n")})
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == []
    outside.write_text("y\n")
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == [f"{key} changed"]


# -- FileHashes ------------------------------------------------------------------------------


def test_file_hashes_are_computed_once_until_forgotten(root: Path) -> None:
    hashes = FileHashes(root)
    assert hashes("data/a.txt") == sha("a\n")
    assert hashes("missing.txt") is None
    (root / "data" / "a.txt").write_text("A\n")
    assert hashes("data/a.txt") == sha("a\n")  # one hash per build
    hashes.forget(["data/a.txt"])
    assert hashes("data/a.txt") == sha("A\n")
    (root / "data" / "a.txt").write_text("again\n")
    hashes.forget()
    assert hashes("data/a.txt") == sha("again\n")
    assert hashes.path("data/") == root / "data"
    assert hashes("data/") == listing_digest(root / "data")


def test_the_listing_of_the_project_root_is_the_root_not_the_file_system(root: Path) -> None:
    """An experiment that lists its working folder (``os.listdir(".")``) records key ``/``."""
    hashes = FileHashes(root)
    assert hashes.path("/") == root
    assert hashes("/") == listing_digest(root)
    stamp = stamp_of(root, inputs={"/": listing_digest(root)})
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == []
    (root / "new.txt").write_text("")
    assert why_outdated(stamp, SETTINGS, FileHashes(root)) == ["/ changed"]


def test_listing_digest_is_the_sorted_names_with_folders_marked(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("")
    (tmp_path / "a").mkdir()
    assert listing_digest(tmp_path) == sha256_bytes(b"a/\nb.txt")
    (tmp_path / "a").rmdir()
    (tmp_path / "a").write_text("")  # a file where the folder was: another listing
    assert listing_digest(tmp_path) == sha256_bytes(b"a\nb.txt")


# -- record_reads ----------------------------------------------------------------------------


def _age(path: Path, seconds: float = 60) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_record_reads_keeps_the_hash_of_an_input_that_did_not_move(root: Path) -> None:
    before = {"data/a.txt": sha("a\n")}
    recorded, changed = record_reads(["data/a.txt"], before, FileHashes(root), time.time_ns())
    assert recorded == {"data/a.txt": sha("a\n")} and changed == []


def test_a_known_input_whose_hash_moved_is_recorded_as_changed_while_read(root: Path) -> None:
    hashes = FileHashes(root)
    assert hashes("data/a.txt") == sha("a\n")  # hashed before the step, as a plan does
    before = {"data/a.txt": sha("a\n"), "data/b.txt": sha("b\n")}
    started = time.time_ns()
    (root / "data" / "a.txt").write_text("edited while TeX read it\n")
    _age(root / "data" / "a.txt")  # an old mtime does not hide a moved hash
    recorded, changed = record_reads(["data/a.txt", "data/b.txt"], before, hashes, started)
    assert recorded == {"data/a.txt": CHANGED_WHILE_READ, "data/b.txt": sha("b\n")}
    assert changed == ["data/a.txt"]
    # The next build redoes the step.
    assert why_outdated(Stamp(inputs=recorded), {}, FileHashes(root)) == [
        "data/a.txt changed during the last build"]


def test_a_new_input_modified_after_the_step_started_is_recorded_as_changed(root: Path
                                                                            ) -> None:
    started = time.time_ns()
    (root / "data" / "new.bib").write_text("@book{x}\n")
    recorded, changed = record_reads(["data/new.bib"], {}, FileHashes(root), started)
    assert recorded == {"data/new.bib": CHANGED_WHILE_READ} and changed == ["data/new.bib"]


def test_a_new_input_older_than_the_step_is_recorded_with_its_hash(root: Path) -> None:
    (root / "data" / "new.bib").write_text("@book{x}\n")
    _age(root / "data" / "new.bib")
    recorded, changed = record_reads(["data/new.bib"], {}, FileHashes(root), time.time_ns())
    assert recorded == {"data/new.bib": sha("@book{x}\n")} and changed == []


def test_a_new_input_within_the_clock_margin_of_the_start_counts_as_changed(root: Path
                                                                            ) -> None:
    path = root / "data" / "new.bib"
    path.write_text("x\n")
    started = path.stat().st_mtime_ns + 5_000_000  # 5 ms after the file's time: too close
    recorded, _ = record_reads(["data/new.bib"], {}, FileHashes(root), started)
    assert recorded == {"data/new.bib": CHANGED_WHILE_READ}


def test_an_input_read_then_deleted_is_not_recorded(root: Path) -> None:
    before = {"data/a.txt": sha("a\n")}
    (root / "data" / "a.txt").unlink()
    assert record_reads(["data/a.txt"], before, FileHashes(root), time.time_ns()) == ({}, [])


def test_record_reads_hashes_afresh(root: Path) -> None:
    hashes = FileHashes(root)
    stale = hashes("data/a.txt")
    (root / "data" / "a.txt").write_text("A\n")
    recorded, changed = record_reads(["data/a.txt"], {"data/a.txt": stale}, hashes,
                                     time.time_ns())
    assert recorded == {"data/a.txt": CHANGED_WHILE_READ} and changed == ["data/a.txt"]


# -- Stamp on disk -----------------------------------------------------------------------------


def test_stamp_round_trips_through_json(root: Path) -> None:
    stamp = stamp_of(root)
    raw = stamp.to_json()
    assert list(raw["inputs"]) == sorted(raw["inputs"])
    assert Stamp.from_json(raw) == stamp
    assert Stamp.from_json({"settings": {}, "inputs": {}, "outputs": {}}) == Stamp()


GOOD: dict[str, Any] = {"settings": {"seed": 0}, "inputs": {"a.txt": "ab12"},
                        "outputs": {"out.pdf": "cd34"}}


@pytest.mark.parametrize("raw", [
    None, "x", 42, 1.5, True, [], [GOOD],
    {},
    {"inputs": {}, "outputs": {}},
    {"settings": {}, "outputs": {}},
    {"settings": {}, "inputs": {}},
    {**GOOD, "settings": None},
    {**GOOD, "settings": []},
    {**GOOD, "settings": "seed=0"},
    {**GOOD, "inputs": None},
    {**GOOD, "inputs": []},
    {**GOOD, "inputs": [["a.txt", "ab12"]]},
    {**GOOD, "inputs": "a.txt"},
    {**GOOD, "outputs": []},
    {**GOOD, "outputs": None},
    {**GOOD, "inputs": {"a.txt": 1}},
    {**GOOD, "inputs": {"a.txt": None}},
    {**GOOD, "inputs": {"a.txt": ["ab12"]}},
    {**GOOD, "inputs": {"a.txt": {"sha": "ab12"}}},
    {**GOOD, "outputs": {"out.pdf": 3.5}},
    {**GOOD, "outputs": {"out.pdf": False}},
], ids=repr)
def test_an_ill_shaped_stamp_is_none(raw: Any) -> None:
    assert Stamp.from_json(raw) is None


def test_a_stamp_read_back_owns_its_maps() -> None:
    raw = {"settings": {"seed": 0}, "inputs": {"a": "1"}, "outputs": {}}
    stamp = Stamp.from_json(raw)
    assert stamp is not None
    raw["inputs"]["a"] = "2"
    assert stamp.inputs == {"a": "1"}


# -- hashing again only what changed (hwbuild/filestats.py) ----------------------------------


def _hashed_bytes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of everything FileHashes hashes from now on."""
    import hwbuild.stamp

    sizes: list[int] = []
    original = hwbuild.stamp.sha256_bytes

    def counting(data: bytes) -> str:
        sizes.append(len(data))
        return original(data)

    monkeypatch.setattr(hwbuild.stamp, "sha256_bytes", counting)
    return sizes


def _clock_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    """FileHashes sees a clock 3 s ahead: the fixture's files (and their ctime, which no
    test can set back) are past the racy window."""
    import types

    import hwbuild.stamp

    ahead = types.SimpleNamespace(time_ns=lambda: time.time_ns() + 3 * 10**9)
    monkeypatch.setattr(hwbuild.stamp, "time", ahead)


def test_a_file_whose_stat_is_unchanged_is_not_hashed_again(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hwbuild.filestats import StatCache

    store = root / "build" / "stats.json"
    _clock_ahead(monkeypatch)
    first = FileHashes(root, StatCache(store))
    digest = first("data/a.txt")
    assert first.stats is not None
    first.stats.save()  # the next build's cache, from the file it wrote
    hashed = _hashed_bytes(monkeypatch)
    again = FileHashes(root, StatCache(store))
    assert again("data/a.txt") == digest == sha("a\n")
    assert hashed == []
    # A same-size edit that even puts the old mtime back still changes the ctime.
    mtime = (root / "data" / "a.txt").stat().st_mtime_ns
    (root / "data" / "a.txt").write_text("z\n")
    os.utime(root / "data" / "a.txt", ns=(mtime, mtime))
    assert FileHashes(root, StatCache(store))("data/a.txt") == sha("z\n")
    assert hashed == [2]


def test_a_file_modified_just_before_it_was_hashed_is_hashed_again(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """git's racy case: a same-size edit within the timestamp's granularity could keep the
    whole stat, so a stat taken that close to the file's mtime vouches for nothing."""
    from hwbuild.filestats import StatCache, signature, trusted

    store = root / "build" / "stats.json"
    first = FileHashes(root, StatCache(store))
    first("data/b.txt")  # written by the fixture a moment ago: racy
    assert first.stats is not None
    first.stats.save()
    sig = signature((root / "data" / "b.txt").stat())
    assert not trusted(sig, time.time_ns())
    assert trusted(sig, time.time_ns() + 3 * 10**9)
    hashed = _hashed_bytes(monkeypatch)
    assert FileHashes(root, StatCache(store))("data/b.txt") == sha("b\n")
    assert hashed == [2]


def test_a_hash_a_worker_took_is_trusted_while_the_stat_holds(
        root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from hwbuild.filestats import StatCache, signature

    path = root / "data" / "a.txt"
    hashes = FileHashes(root, StatCache(root / "build" / "stats.json"))
    hashed = _hashed_bytes(monkeypatch)
    taken = time.time_ns() + 3 * 10**9  # as if the worker read it 3 s after it was written
    hashes.vouch("data/a.txt", [*signature(path.stat()), taken], "as-the-worker-read")
    assert hashes("data/a.txt") == "as-the-worker-read"
    assert hashed == []
    path.write_text("edited\n")
    hashes.forget(["data/a.txt"])
    assert hashes("data/a.txt") == sha("edited\n")
