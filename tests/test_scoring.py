from __future__ import annotations

import pytest

from graphs.bipartite import bipartite_incidence
from graphs.clustering import leiden_clusters
from graphs.projection import co_engagement
from graphs.scoring import scored_cohorts
from tests.conftest import FANS, FARM


def _scored(world, *, with_posts=True, **rules):
    import pyarrow as pa

    interactions, posts = world
    inc = bipartite_incidence(pa.Table.from_pandas(interactions, preserve_index=False))
    co = co_engagement(inc, window_s=3600)
    clusters = leiden_clusters(co.edges, seed=0)
    return scored_cohorts(clusters, co.edges, co.evidence, co.activity,
                          n_actions=co.stats["n_actions"],
                          posts=posts if with_posts else None, **rules)


def test_farm_flagged_fans_not(world):
    scored = _scored(world)
    assert sorted(scored.flagged_accounts["account_id"]) == FARM
    top = scored.cohorts.iloc[0]
    assert top["flagged"] and top["n_authors"] == 6 and top["shared_targets"] == 6
    assert top["density"] == 1.0 and top["median_dt_s"] == 120.0
    fans = scored.cohorts[scored.cohorts["size"] == len(FANS)].iloc[-1]
    assert not fans["flagged"] and fans["top_author_share"] == 1.0
    assert "100% of co-engagements on one author's posts" in fans["explanation"]


def test_without_posts_authors_are_unknown(world):
    scored = _scored(world, with_posts=False)
    assert scored.cohorts["n_authors"].isna().all()
    assert set(FARM) <= set(scored.flagged_accounts["account_id"])


def test_without_posts_a_sign_up_burst_is_needed(world):
    import pandas as pd

    start = pd.Timestamp("2024-01-01", tz="UTC")
    created = {a: start + pd.Timedelta(hours=i) for i, a in enumerate(FARM)}  # one batch
    created |= {a: start - pd.Timedelta(days=100 * (i + 1)) for i, a in enumerate(FANS)}
    accounts = pd.DataFrame({"account_id": list(created), "created_at": list(created.values())})
    scored = _scored(world, with_posts=False, accounts=accounts, min_same_action_share=0.0)
    assert sorted(scored.flagged_accounts["account_id"]) == FARM
    cohort_of = scored.memberships.set_index("account_id")["cohort_id"]
    by_id = scored.cohorts.set_index("cohort_id")
    farm, fans = by_id.loc[cohort_of[FARM[0]]], by_id.loc[cohort_of[FANS[0]]]
    assert farm["creation_burst_share"] == 1.0
    assert farm["creation_spread_days"] == pytest.approx((len(FARM) - 1) / 2 / 24)  # IQR, days
    assert fans["creation_burst_share"] == 1 / len(FANS)
    assert fans["creation_spread_days"] == pytest.approx(100 * (len(FANS) - 1) / 2)
    assert (f"authors unknown (no posts table), no sign-up burst (at most {1 / len(FANS):.0%}"
            " of members created within 3 days, < 25%)") in fans["explanation"]
    off = _scored(world, with_posts=False, accounts=accounts, min_creation_burst=0.0,
                  min_same_action_share=0.0)
    assert set(FANS) <= set(off.flagged_accounts["account_id"])


def test_rules_are_parameters(world):
    scored = _scored(world, min_size=7)
    assert scored.flagged_accounts.empty
    assert "fewer than 7 accounts" in scored.cohorts.iloc[0]["explanation"]


def test_memberships_cover_every_clustered_account_once(world):
    scored = _scored(world)
    assert scored.memberships["account_id"].is_unique
    assert set(scored.cohorts["cohort_id"]) == set(scored.memberships["cohort_id"])
    assert scored.cohorts["cohort_id"].tolist() == list(range(len(scored.cohorts)))


def test_member_with_ties_at_chance_is_pruned():
    import pandas as pd
    import pytest

    from graphs.scoring import pruned_members

    clusters = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "cluster": [0, 0, 0, 1]})
    edges = pd.DataFrame({"account_a": ["a", "a"], "account_b": ["b", "c"],
                          "shared_targets": [4, 1]})
    activity = pd.DataFrame({"account_id": list("abcd"), "n_actions": [4.0, 4.0, 30.0, 1.0],
                             "crowd_sum": [4.0, 4.0, 300.0, 1.0]})
    pruned = pruned_members(clusters, edges, activity, n_actions=1000)
    assert pruned["cluster"].tolist() == [0, 0, 2, 1]  # c: 1 tie vs 1.3 expected
    kept = pruned_members(clusters, edges, activity, n_actions=1000, min_member_lift=0.5)
    assert kept["cluster"].tolist() == [0, 0, 0, 1]
    with pytest.raises(ValueError, match="min_member_lift must be >= 0"):
        pruned_members(clusters, edges, activity, n_actions=1000, min_member_lift=-1)


def test_no_edges_gives_empty_tables():
    import pandas as pd

    empty = pd.DataFrame({"account_id": pd.Series(dtype=str), "cluster": pd.Series(dtype=int)})
    edges = pd.DataFrame({c: pd.Series(dtype=float) for c in
                          ["account_a", "account_b", "shared_targets", "weight", "median_dt_s"]})
    evidence = pd.DataFrame({c: pd.Series(dtype=object) for c in
                             ["account_a", "account_b", "target_id", "action_a", "dt_s"]})
    activity = pd.DataFrame({"account_id": pd.Series(dtype=str), "n_actions": [], "crowd_sum": []})
    scored = scored_cohorts(empty, edges, evidence, activity, n_actions=2)
    assert scored.cohorts.empty and scored.memberships.empty and scored.flagged_accounts.empty


def test_single_accounts_are_not_cohorts(world):
    scored = _scored(world)
    assert (scored.cohorts["size"] >= 2).all()


def _clique(targets_of_pair):
    """Clusters, edges, evidence and activity of one cluster whose pairs share given targets."""
    import pandas as pd

    rows = [(a, b, t) for (a, b), targets in targets_of_pair.items() for t in targets]
    evidence = pd.DataFrame(rows, columns=["account_a", "account_b", "target_id"]).assign(
        action_a="like", dt_s=60.0)
    edges = evidence.groupby(["account_a", "account_b"], as_index=False).agg(
        shared_targets=("target_id", "size")).assign(weight=1.0, median_dt_s=60.0)
    ids = sorted(set(edges["account_a"]) | set(edges["account_b"]))
    clusters = pd.DataFrame({"account_id": ids, "cluster": 0})
    activity = pd.DataFrame({"account_id": ids, "n_actions": 6.0, "crowd_sum": 6.0})
    return clusters, edges, evidence, activity


def test_ties_concentrated_on_few_targets_are_not_flagged():
    import itertools

    import pandas as pd

    accounts = [f"u{i}" for i in range(6)]
    pairs = list(itertools.combinations(accounts, 2))
    # every pair co-liked the same two popular posts; one pair also shares four more
    spread = {p: ["v0", "v1"] + (["p2", "p3", "p4", "p5"] if p == pairs[0] else []) for p in pairs}
    posts = pd.DataFrame({"target_id": ["v0", "v1", "p2", "p3", "p4", "p5"],
                          "author_id": ["A", "B", "C", "D", "E", "F"]})
    scored = scored_cohorts(*_clique(spread), n_actions=10_000, posts=posts)
    row = scored.cohorts.iloc[0]
    assert round(row["effective_targets"], 2) == round(1 / (2 * (15 / 34) ** 2 + 4 / 34**2), 2)
    assert not row["flagged"]
    assert "effective targets (< 5)" in row["explanation"]
    assert "effective authors (< 5)" in row["explanation"]
    relaxed = scored_cohorts(*_clique(spread), n_actions=10_000, posts=posts,
                             min_effective_targets=2.0, min_effective_authors=2.0)
    assert relaxed.cohorts.iloc[0]["flagged"]


def test_ties_spread_over_many_authors_are_flagged():
    import itertools

    import pandas as pd

    accounts = [f"u{i}" for i in range(6)]
    targets = [f"p{k}" for k in range(6)]
    spread = {p: targets for p in itertools.combinations(accounts, 2)}
    posts = pd.DataFrame({"target_id": targets, "author_id": list("ABCDEF")})
    row = scored_cohorts(*_clique(spread), n_actions=10_000, posts=posts).cohorts.iloc[0]
    assert row["effective_targets"] == 6.0 and row["effective_authors"] == 6.0
    assert row["flagged"]


def test_without_posts_bundles_tell_a_farm_from_fans_who_like_and_comment(world):
    interactions, posts = world
    fan = interactions["account_id"].isin(FANS[::2])
    mixed = (interactions.assign(action=interactions["action"].where(~fan, "comment")), posts)
    scored = _scored(mixed, with_posts=False)
    assert sorted(scored.flagged_accounts["account_id"]) == FARM
    fans = scored.cohorts[~scored.cohorts["flagged"]].iloc[0]
    assert fans["same_action_share"] < 0.8 and "no single-action bundles" in fans["explanation"]
    assert set(FANS) <= set(_scored(world, with_posts=False).flagged_accounts["account_id"])


def test_a_farm_sign_can_be_required_with_posts(world):
    scored = _scored(world, require_farm_sign=True, min_same_action_share=1.01)
    assert scored.flagged_accounts.empty
    assert ("weak ties need a second farm sign, no single-action bundles (100% of tied pairs "
            "did the same action, < 101%)") in scored.cohorts.iloc[0]["explanation"]
    assert sorted(_scored(world, require_farm_sign=True).flagged_accounts["account_id"]) == FARM


def test_without_authors_a_cohort_needs_a_burst_or_bundles():
    import pandas as pd

    from graphs.explanations import flag_reasons

    rules = dict(min_size=5, min_shared_targets=5, min_density=0.1, min_lift=3.0,
                 max_cohort_p=1e-6, min_authors=5, max_top_author_share=0.5,
                 min_effective_authors=5.0, min_effective_targets=5.0,
                 min_creation_burst=0.25, min_same_action_share=0.8)
    base = {"lift": 10.0, "cohort_p_value": 1e-9, "size": 20, "density": 0.5,
            "shared_targets": 20, "effective_targets": 15.0, "n_authors": pd.NA,
            "top_author_share": float("nan"), "effective_authors": float("nan")}

    def reasons(**row):
        return flag_reasons(pd.Series(base | row), **rules)

    assert reasons(creation_burst_share=0.4, same_action_share=0.6) == []  # burst
    assert reasons(creation_burst_share=0.1, same_action_share=0.9) == []  # bundles
    assert reasons(creation_burst_share=float("nan"), same_action_share=0.9) == []
    assert reasons(creation_burst_share=0.1, same_action_share=0.6) == [
        "authors unknown (no posts table), no sign-up burst (at most 10% of members created "
        "within 3 days, < 25%) and no single-action bundles (60% of tied pairs did the same "
        "action, < 80%)"]
    assert reasons(creation_burst_share=float("nan"), same_action_share=0.6) == [
        "authors unknown (no posts table), no single-action bundles (60% of tied pairs did "
        "the same action, < 80%)"]
    off = rules | {"min_creation_burst": 0.0, "min_same_action_share": 0.0}
    row = pd.Series(base | {"creation_burst_share": 0.1, "same_action_share": 0.6})
    assert flag_reasons(row, **off) == []
