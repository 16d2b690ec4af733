"""Evidence bundles: one folder per flagged cohort that a third party can verify.

``bundles/cohort_<id>/`` holds ``cohort.csv`` (the cohort's row), ``members.csv``,
``edges.csv`` (ties inside the cohort), ``evidence.csv`` (per tie and shared target:
both accounts' timestamps), the cohort's figures, a copy of the run's ``manifest.json``
(inputs with SHA-256, parameters, versions) and ``SHA256SUMS`` in the format of
``sha256sum`` — ``cd bundles/cohort_<id> && sha256sum -c SHA256SUMS`` checks every file.
The same folder is also written as ``bundles/cohort_<id>.zip`` (entries under
``cohort_<id>/``, SHA256SUMS included, fixed 1980-01-01 timestamps: the same bundle gives
the same zip bytes) — ``unzip cohort_<id>.zip && cd cohort_<id> && sha256sum -c SHA256SUMS``.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import zipfile
from pathlib import Path

import pandas as pd

from pipelines.outputs import atomic_file, sha256_file, write_csv
from pipelines.report import parallel_map
from pipelines.report_evidence import CohortRows, cohort_rows
from pipelines.report_tables import paged_cohorts

logger = logging.getLogger(__name__)
SUMS = "SHA256SUMS"
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
ZIP_LEVEL = 1
"""Deflate level of the zips: level 6 took 115 ms for a 2 MB bundle (mostly edges.csv), level
1 takes 30 ms for a zip 25% larger; the figures inside are compressed already."""


def write_bundles(
    out_dir: Path,
    *,
    cohorts: pd.DataFrame,
    memberships: pd.DataFrame,
    edges: pd.DataFrame,
    evidence: pd.DataFrame,
    max_cohorts: int = 0,
    workers: int | None = None,
    split: CohortRows | None = None,
) -> list[Path]:
    """Write ``out_dir/bundles/cohort_<id>/`` for every flagged cohort (the ``max_cohorts``
    highest ranked when it is above 0, as the report's pages).

    Parameters
    ----------
    out_dir : Path
        A run directory where ``manifest.json`` (and ``figures/``, if any) are written.
    cohorts, memberships, edges, evidence : DataFrame
        The ``cohorts``, ``memberships``, ``co_engagement_edges`` and ``edge_evidence``
        tables.
    max_cohorts : int, default 0
        Bundles for the ``max_cohorts`` highest ranked flagged cohorts only (0: all).
    workers : int, optional
        Processes writing the bundles (:func:`pipelines.report.parallel_map`).
    split : CohortRows, optional
        The bundled cohorts' edges and evidence, already split for the report's pages
        (:func:`pipelines.report_evidence.cohort_rows`); split here when not given.

    Returns
    -------
    list of Path
        The bundle directories, in cohort id order (each with its ``.zip`` beside it).

    Raises
    ------
    ValueError
        If ``out_dir/manifest.json`` does not exist yet.
    """
    out_dir = Path(out_dir)
    manifest = out_dir / "manifest.json"
    if not manifest.is_file():
        raise ValueError(f"write_bundles: {manifest} must be written before the bundles")
    flagged = sorted(paged_cohorts(cohorts, max_cohorts))
    paged = memberships[memberships["cohort_id"].isin(flagged)]  # split only what is written
    split = cohort_rows(flagged, memberships=paged, edges=edges, evidence=evidence, split=split)
    edges_in, evidence_in = split.edges, split.evidence

    def bundle(cohort_id: int) -> Path:
        folder = out_dir / "bundles" / f"cohort_{cohort_id}"
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(cohorts[cohorts["cohort_id"] == cohort_id], folder / "cohort.csv")
        members = paged[paged["cohort_id"] == cohort_id].sort_values("account_id")
        write_csv(members, folder / "members.csv")
        write_csv(edges_in.get(cohort_id, edges.head(0)), folder / "edges.csv")
        write_csv(_sorted_evidence(evidence_in.get(cohort_id, evidence.head(0))),
                  folder / "evidence.csv")
        shutil.copyfile(manifest, folder / "manifest.json")
        for figure in sorted((out_dir / "figures").glob(f"cohort_{cohort_id}_*")):
            (folder / "figures").mkdir(exist_ok=True)
            shutil.copyfile(figure, folder / "figures" / figure.name)
        write_sums(folder)
        write_zip(folder)
        return folder

    written = parallel_map(bundle, flagged, workers=workers, what="bundles")  # as the pages
    logger.info("wrote %d evidence bundles", len(written))
    return written


def _sorted_evidence(evidence: pd.DataFrame) -> pd.DataFrame:
    return evidence.sort_values(["account_a", "account_b", "target_id"], kind="mergesort")


def write_sums(folder: Path) -> Path:
    """Write ``folder/SHA256SUMS`` listing every other file under ``folder`` (sorted)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != SUMS)
    lines = [f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in files]
    path = folder / SUMS
    path.write_text("".join(lines), encoding="utf-8")
    return path


def check_sums(folder: Path) -> list[str]:
    """Files of ``folder/SHA256SUMS`` whose content no longer matches (empty = verified)."""
    bad = []
    for line in (Path(folder) / SUMS).read_text(encoding="utf-8").splitlines():
        digest, name = line.split("  ", 1)
        path = Path(folder) / name
        if not path.is_file() or sha256_file(path) != digest:
            bad.append(name)
    return bad


def write_zip(folder: Path) -> Path:
    """Write ``<folder>.zip`` beside ``folder``: its files (sorted) under ``<folder name>/``.

    Timestamps and permissions are fixed, so the same files give the same zip bytes.
    """
    folder = Path(folder)
    target = folder.with_name(folder.name + ".zip")
    with atomic_file(target) as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(f"{folder.name}/{path.relative_to(folder).as_posix()}",
                                   date_time=ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            archive.writestr(info, path.read_bytes(), compresslevel=ZIP_LEVEL)
    return target


def check_zip(path: Path) -> list[str]:
    """Entries of a bundle zip's ``SHA256SUMS`` that are missing or do not match (empty = verified).

    Raises
    ------
    ValueError
        If the zip holds no ``<folder>/SHA256SUMS``.
    """
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        sums = [n for n in names if n.count("/") == 1 and n.endswith("/" + SUMS)]
        if len(sums) != 1:
            raise ValueError(f"{path}: expected one <folder>/{SUMS} entry, found {len(sums)}")
        root = sums[0].split("/")[0]
        bad = []
        for line in archive.read(sums[0]).decode("utf-8").splitlines():
            digest, name = line.split("  ", 1)
            entry = f"{root}/{name}"
            if entry not in names or hashlib.sha256(archive.read(entry)).hexdigest() != digest:
                bad.append(name)
    return bad
