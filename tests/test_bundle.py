"""Evidence bundles verify with sha256sum -c; pseudonyms are stable, keyed and pair-safe."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from pipelines.bundle import check_sums, check_zip, write_bundles, write_zip
from pipelines.outputs import write_json
from pipelines.pseudonyms import pseudonym, pseudonymised, shareable_tables
from pipelines.report_evidence import cohort_rows
from tests.test_report import MANIFEST, tables


def test_bundle_verifies_with_sha256sum(tmp_path: Path) -> None:
    t = tables()
    write_json(MANIFEST, tmp_path / "manifest.json")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "cohort_0_raster.png").write_bytes(b"png bytes")
    (tmp_path / "figures" / "cohort_10_raster.png").write_bytes(b"not ours")
    [folder] = write_bundles(tmp_path, **t)
    assert folder == tmp_path / "bundles" / "cohort_0"
    names = [line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()]
    assert names == ["cohort.csv", "edges.csv", "evidence.csv", "figures/cohort_0_raster.png",
                     "manifest.json", "members.csv"]
    members = pd.read_csv(folder / "members.csv")
    assert len(members) == 4 and set(members["cohort_id"]) == {0}
    assert len(pd.read_csv(folder / "evidence.csv")) == 12  # 6 farm pairs × 2 targets
    assert (folder / "manifest.json").read_bytes() == (tmp_path / "manifest.json").read_bytes()
    if shutil.which("sha256sum"):
        done = subprocess.run(["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True,
                              text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    assert check_sums(folder) == []
    (folder / "edges.csv").write_text("tampered\n")
    assert check_sums(folder) == ["edges.csv"]


def test_bundle_zip_holds_the_folder_and_verifies(tmp_path: Path) -> None:
    write_json(MANIFEST, tmp_path / "manifest.json")
    [folder] = write_bundles(tmp_path, **tables())
    archive = tmp_path / "bundles" / "cohort_0.zip"
    with zipfile.ZipFile(archive) as z:
        names = z.namelist()
        assert names == sorted(names) and "cohort_0/SHA256SUMS" in names
        assert {i.date_time for i in z.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert z.read("cohort_0/evidence.csv") == (folder / "evidence.csv").read_bytes()
        z.extractall(tmp_path / "unzipped")
    assert check_zip(archive) == []
    assert check_sums(tmp_path / "unzipped" / "cohort_0") == []
    first = archive.read_bytes()
    assert write_zip(folder).read_bytes() == first  # same files, same bytes
    (folder / "members.csv").write_text("tampered\n")
    assert check_zip(write_zip(folder)) == ["members.csv"]
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as z:
        z.writestr("x.txt", "no sums")
    with pytest.raises(ValueError, match="expected one <folder>/SHA256SUMS entry, found 0"):
        check_zip(tmp_path / "plain.zip")


def test_bundles_follow_the_report_cap(tmp_path: Path) -> None:
    write_json(MANIFEST, tmp_path / "manifest.json")
    t = tables()
    t["cohorts"]["flagged"] = True  # two flagged cohorts, cohort 0 ranked first
    assert write_bundles(tmp_path, **t, max_cohorts=1) == [tmp_path / "bundles" / "cohort_0"]
    assert [p.name for p in sorted((tmp_path / "bundles").iterdir())] == ["cohort_0",
                                                                          "cohort_0.zip"]
    full = tmp_path / "all"
    full.mkdir()
    write_json(MANIFEST, full / "manifest.json")
    assert len(write_bundles(full, **t)) == 2  # 0: every flagged cohort


def test_bundles_written_by_worker_processes_are_identical(tmp_path: Path) -> None:
    t = tables()
    t["cohorts"]["flagged"] = True
    out = {}
    for workers in (1, 2):
        run_dir = tmp_path / str(workers)
        run_dir.mkdir()
        write_json(MANIFEST, run_dir / "manifest.json")
        folders = write_bundles(run_dir, **t, workers=workers)
        assert [f.name for f in folders] == ["cohort_0", "cohort_1"]
        out[workers] = {p.relative_to(run_dir): p.read_bytes()
                        for p in (run_dir / "bundles").rglob("*") if p.is_file()}
    assert len(out[1]) > 10 and out[1] == out[2]


def test_bundles_from_rows_split_for_the_pages_are_identical(tmp_path: Path) -> None:
    t = tables()
    t["cohorts"]["flagged"] = True
    split = cohort_rows([1, 0], memberships=t["memberships"], edges=t["edges"],
                        evidence=t["evidence"])
    out = {}
    for name, given in (("own", None), ("shared", split)):
        (tmp_path / name).mkdir()
        write_json(MANIFEST, tmp_path / name / "manifest.json")
        write_bundles(tmp_path / name, **t, split=given)
        out[name] = {p.relative_to(tmp_path / name): p.read_bytes()
                     for p in (tmp_path / name / "bundles").rglob("*") if p.is_file()}
    assert len(out["own"]) > 10 and out["own"] == out["shared"]
    with pytest.raises(ValueError, match="split for 2 cohorts, not the 1 paged ones"):
        write_bundles(tmp_path / "own", **t, max_cohorts=1, split=split)


def test_bundle_needs_the_manifest_first(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="manifest.json must be written before"):
        write_bundles(tmp_path, **tables())


def test_pseudonyms_keep_flagged_ids_and_pair_order() -> None:
    evidence = pd.DataFrame({
        "account_a": ["farm_1", "org_a"], "account_b": ["zz_org", "org_b"],
        "target_id": ["t1", "t2"], "time_a": [1, 3], "time_b": [2, 4], "dt_s": [1.0, 1.0]})
    out = pseudonymised(evidence, keep={"farm_1"}, key=b"k")
    assert (out["account_a"] < out["account_b"]).all()
    first = out.iloc[0]
    # "anon_…" sorts before "farm_1": the pair swapped, its times with it
    assert (first["account_a"], first["account_b"]) == (pseudonym("zz_org", b"k"), "farm_1")
    assert (first["time_a"], first["time_b"]) == (2, 1)
    assert set(out.iloc[1][["account_a", "account_b"]]) == {pseudonym("org_a", b"k"),
                                                            pseudonym("org_b", b"k")}
    assert evidence["account_a"].tolist() == ["farm_1", "org_a"]  # input untouched


def test_shareable_tables_off_and_on() -> None:
    t = tables()
    rejected = pd.DataFrame({"source": ["f"], "line": [2], "reason": ["bad"], "raw": ["fan_a,x"]})
    flagged = t["memberships"][t["memberships"]["cohort_id"] == 0]
    kwargs = dict(memberships=t["memberships"], edges=t["edges"], evidence=t["evidence"],
                  rejected=rejected, flagged_accounts=flagged)
    off = shareable_tables(**kwargs, enabled=False)
    assert off.memberships is t["memberships"] and off.note == {"enabled": False}
    keyed = shareable_tables(**kwargs, enabled=True, key="secret")
    again = shareable_tables(**kwargs, enabled=True, key="secret")
    random_key = shareable_tables(**kwargs, enabled=True)
    ids = keyed.memberships["account_id"].tolist()
    assert ids[:4] == t["memberships"]["account_id"].tolist()[:4]  # flagged ids kept
    assert all(a.startswith("anon_") for a in ids[4:]) and "fan_a" not in keyed.edges.to_string()
    assert ids == again.memberships["account_id"].tolist()
    assert ids[4:] != random_key.memberships["account_id"].tolist()[4:]
    assert keyed.rejected["raw"].tolist() == ["(withheld: pseudonymised run)"]
    assert keyed.note["key"] == "pseudonym_key from the configuration"
