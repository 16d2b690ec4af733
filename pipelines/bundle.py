"""Evidence bundles: one folder per flagged cohort that a third party can verify.

``bundles/cohort_<id>/`` holds ``cohort.csv`` (the cohort's row), ``members.csv``,
``edges.csv`` (ties inside the cohort), ``evidence.csv`` (per tie and shared target:
both accounts' timestamps), the cohort's figures, a copy of the run's ``manifest.json``
(inputs with SHA-256, parameters, versions) and ``SHA256SUMS`` in the format of
``sha256sum`` — ``cd bundles/cohort_<id> && sha256sum -c SHA256SUMS`` checks every file.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pandas as pd

from pipelines.outputs import sha256_file, write_csv
from pipelines.report import within_cohort

logger = logging.getLogger(__name__)
SUMS = "SHA256SUMS"


def write_bundles(
    out_dir: Path,
    *,
    cohorts: pd.DataFrame,
    memberships: pd.DataFrame,
    edges: pd.DataFrame,
    evidence: pd.DataFrame,
) -> list[Path]:
    """Write ``out_dir/bundles/cohort_<id>/`` for every flagged cohort.

    Parameters
    ----------
    out_dir : Path
        A run directory where ``manifest.json`` (and ``figures/``, if any) are written.
    cohorts, memberships, edges, evidence : DataFrame
        The ``cohorts``, ``memberships``, ``co_engagement_edges`` and ``edge_evidence``
        tables.

    Returns
    -------
    list of Path
        The bundle directories, in cohort id order.

    Raises
    ------
    ValueError
        If ``out_dir/manifest.json`` does not exist yet.
    """
    out_dir = Path(out_dir)
    manifest = out_dir / "manifest.json"
    if not manifest.is_file():
        raise ValueError(f"write_bundles: {manifest} must be written before the bundles")
    cohort_of = dict(zip(memberships["account_id"], memberships["cohort_id"].astype(int),
                         strict=True))
    edges_in, evidence_in = within_cohort(edges, cohort_of), within_cohort(evidence, cohort_of)
    flagged = sorted(int(c) for c in cohorts.loc[cohorts["flagged"].astype(bool), "cohort_id"])
    written = []
    for cohort_id in flagged:
        folder = out_dir / "bundles" / f"cohort_{cohort_id}"
        folder.mkdir(parents=True, exist_ok=True)
        write_csv(cohorts[cohorts["cohort_id"] == cohort_id], folder / "cohort.csv")
        members = memberships[memberships["cohort_id"] == cohort_id].sort_values("account_id")
        write_csv(members, folder / "members.csv")
        write_csv(edges_in.get(cohort_id, edges.head(0)), folder / "edges.csv")
        write_csv(_sorted_evidence(evidence_in.get(cohort_id, evidence.head(0))),
                  folder / "evidence.csv")
        shutil.copyfile(manifest, folder / "manifest.json")
        for figure in sorted((out_dir / "figures").glob(f"cohort_{cohort_id}_*")):
            (folder / "figures").mkdir(exist_ok=True)
            shutil.copyfile(figure, folder / "figures" / figure.name)
        write_sums(folder)
        written.append(folder)
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
