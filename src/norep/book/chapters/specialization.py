"""The chapter "Specialization": confidence angles, who wins where, and their verdicts.

Every pair is (base, partner), with every other model of the store as a partner
(members, accuracy controls and undecidable ones alike, in store order). The chapter
computes two pair values with paired bootstrap intervals, the confident-right share
(:func:`confident_right_shares`) and the class spread (:func:`class_spreads`), reads
their trend with divergence (:meth:`PairValue.trend`), shows who wins which subdomain
(:func:`subdomain_wins_tables`) and closes with :func:`paper_rows`.

Example:
    >>> zoo = open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01)       # doctest: +SKIP
    >>> partners = partner_table(zoo)                                  # doctest: +SKIP
    >>> angles = pair_thetas(zoo, temperature_scaling=True)            # doctest: +SKIP
    >>> shares = confident_right_shares(zoo, partners, angles, 1000, 0)  # doctest: +SKIP
    >>> shares.trend().text("Trend of the confident-right share.")     # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown

from norep.analysis.bootstrap import Interval, percentile_interval
from norep.analysis.specialization import (
    CategoryTrend,
    category_trend,
    class_spread,
    confident_right_share,
)
from norep.analysis.verdicts import interval_text
from norep.book.chapter import ChapterZoo
from norep.book.views import fit_temperatures, pair_angles, who_wins_where_many
from norep.store import read_outcomes
from norep.zoo import CATEGORIES

LEVEL = 0.95
"""Coverage of every interval of the chapter."""

EXAMPLE_ROLES = {"Reinit": ["Reinit"], "Architecture": ["Architecture"],
                 "Dataset or Framework": ["Dataset", "Framework"]}
"""The example pairs of the paper's Fig. 3: role -> the categories that may fill it, in order."""

SETS = ("all pairs", "in the band")
"""The two sets of pairs every trend is read on."""


def partner_table(zoo: ChapterZoo) -> pd.DataFrame:
    """One row per partner of the base: every other model of the store, in store order.

    Args:
        zoo: The chapter's zoo.

    Returns:
        A table indexed by model id with columns ``label`` (display name), ``group``
        (category, accuracy control or undecidable), ``category``, ``control``,
        ``in_band``, ``accuracy`` (test accuracy, %) and ``panel`` (the pair's title in
        figures: names, group, test accuracy, band).

    Example:
        >>> partners = partner_table(open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01))  # doctest: +SKIP
        >>> partners.loc["mlp", "group"]                                                  # doctest: +SKIP
        'Architecture'
    """
    roster, table = zoo.roster, zoo.roster.table
    accuracy = 100 * read_outcomes(zoo.store, "test", list(table.index)).accuracy
    partners = pd.DataFrame({
        "label": table["name"], "group": table["group"], "category": table["category"],
        "control": table["role"] == "accuracy-control", "in_band": table["in_band"].astype(bool),
        "accuracy": accuracy}).drop(index=roster.base)
    base = zoo.names[roster.base]
    partners["panel"] = [f"{base} vs {p.label}\n{p.group}, {p.accuracy:.1f}% "
                         f"({'in' if p.in_band else 'out of'} band)" for p in partners.itertuples()]
    return partners


@dataclass(frozen=True)
class Angles:
    """The confidence angle of every pair (base, partner) with confidences on both sides.

    Attributes:
        tables: Per partner, one row per exactly-one-right test example (the table of
            :func:`norep.book.views.pair_angles`) with ``theta`` in degrees and
            ``a_right`` (whether the base is the one that is right).
        skipped: Partners left out: no confidences on one side.
        temperatures: Temperature per model with logits (fitted on the calibration
            split); empty when the confidences are not scaled.
    """

    tables: dict[str, pd.DataFrame]
    skipped: list[str]
    temperatures: dict[str, float]

    def note(self, zoo: ChapterZoo) -> Markdown:
        """One sentence: the pairs with angles, those left out, and the temperatures."""
        skipped = ", ".join(zoo.names[m] for m in self.skipped)
        return Markdown(f"{len(self.tables)} pairs have confidences on both sides"
                        + (f"; left out (no confidences): {skipped}." if skipped else ".")
                        + " Temperatures: " + ("fitted on calibration" if self.temperatures
                                               else "none (raw confidences)") + ".")


def pair_thetas(zoo: ChapterZoo, temperature_scaling: bool = True) -> Angles:
    """The confidence angles of the base with every partner on the test split.

    Args:
        zoo: The chapter's zoo.
        temperature_scaling: Scale the confidences of every model with logits by its own
            temperature, fitted on the calibration split (when the store has one).

    Returns:
        The angles, in degrees.

    Example:
        >>> angles = pair_thetas(zoo, temperature_scaling=False)   # doctest: +SKIP
        >>> angles.tables["mlp"][["theta", "a_right"]].head()      # doctest: +SKIP
    """
    store, base, table = zoo.store, zoo.roster.base, zoo.roster.table
    with_logits = list(table.index[table["has_logits"]])
    scale = temperature_scaling and "calibration" in set(store.examples["split"]) and with_logits
    temperatures = fit_temperatures(store, with_logits, "calibration") if scale else {}
    tables, skipped = {}, []
    for m in (m for m in table.index if m != base):
        angles = pair_angles(store, base, m, "test", temperatures).dropna(subset=["theta"])
        if len(angles):
            tables[m] = angles.assign(theta=np.degrees(angles["theta"]), a_right=angles["right"] == base)
        else:
            skipped.append(m)
    return Angles(tables, skipped, temperatures)


@dataclass(frozen=True)
class PairValue:
    """One value per pair (base, partner) with paired bootstrap intervals.

    Attributes:
        table: The rows of :func:`partner_table` of the pairs, with columns ``value``,
            ``low`` and ``high`` added (and any value-specific ones).
        samples: The bootstrap values on shared resamples, shape (B, pairs).
    """

    table: pd.DataFrame
    samples: np.ndarray

    def trend(self) -> Trend:
        """Category means and the trend with divergence, over all pairs and in the band.

        Accuracy controls are left out of the categories and listed apart, each with its
        own value and interval.
        """
        table, tail = self.table, (1 - LEVEL) / 2
        control, value = table["control"].to_numpy(bool), table["value"].to_numpy(float)
        band = table["in_band"].to_numpy(bool)
        sets = {name: category_trend(table["category"].to_numpy(object), value, self.samples,
                                     selected & ~control, LEVEL)
                for name, selected in zip(SETS, (np.ones(len(table), bool), band))}
        summary = {}
        for name, result in sets.items():
            for c, mean in result.means.items():
                summary.setdefault(c, {})[f"{name}: pairs"] = str(result.pairs[c])
                summary[c][f"{name}: mean"] = interval_text(mean.estimate, mean.low, mean.high, digits=2)
        for k in np.flatnonzero(control):
            low, high = np.nanquantile(self.samples[:, k], [tail, 1 - tail])
            summary[f"control: {table['label'].iloc[k]}"] = {
                "all pairs: pairs": "1", "all pairs: mean": interval_text(value[k], low, high, 2)}
        return Trend(pd.DataFrame(summary).T.fillna("-").rename_axis("category"), sets)

    @property
    def reinit(self) -> np.ndarray:
        """Which pairs are Reinit pairs (accuracy controls excluded), shape (pairs,)."""
        return ((self.table["category"] == "Reinit") & ~self.table["control"]).to_numpy(bool)

    def reinit_mean(self) -> Interval:
        """The mean over the Reinit pairs (at least one) with its interval."""
        return percentile_interval(np.asarray(self.table["value"].to_numpy(float)[self.reinit].mean()),
                                   np.nanmean(self.samples[:, self.reinit], axis=1), LEVEL)


@dataclass(frozen=True)
class Trend:
    """A pair value's category means and its trend with divergence, in words.

    Attributes:
        summary: Per category (and per accuracy control), the pairs and the mean with its
            interval, over all pairs and in the band.
        sets: Per set of pairs (:data:`SETS`), the trend.
    """

    summary: pd.DataFrame
    sets: dict[str, CategoryTrend]

    def sentence(self, name: str, unit: str = "points") -> str:
        """The trend over one set of pairs: Spearman's rho and the contrast with Reinit.

        Args:
            name: The set of pairs, one of :data:`SETS`.
            unit: The unit of the contrast.

        Returns:
            One clause, e.g. "all pairs (16 pairs): Spearman rho = 0.21; Framework
            minus Reinit = 2.98 [0.62, 5.14] points".
        """
        trend = self.sets[name]
        if trend.contrast is None:
            return f"{name}: no Reinit pair and a more divergent one to compare"
        d = trend.contrast
        return (f"{name} ({trend.n} pairs): Spearman rho = {trend.rho:.2f}; {' and '.join(trend.top)} "
                f"minus Reinit = {interval_text(d.estimate, d.low, d.high, digits=2)} {unit}")

    def text(self, intro: str) -> Markdown:
        """The intro followed by the sentence of every set of pairs.

        Args:
            intro: The first sentence, e.g. what the value is.

        Returns:
            The paragraph.
        """
        return Markdown(f"{intro} " + "; ".join(self.sentence(name) for name in self.sets) + ".")

    def verdict(self, what: str) -> str:
        """Whether the most divergent pairs exceed Reinit with an interval above 0.

        Read at matched accuracy (in the band) first, then over all pairs.

        Args:
            what: The subject of the verdict, e.g. ``"the share is"``.

        Returns:
            "yes: ...", "partly: ...", "no: ..." or "not testable: ...".
        """
        band, every = self.sets["in the band"].contrast, self.sets["all pairs"].contrast
        if band is not None and band.low > 0:
            return f"yes: {what} higher than Reinit at matched accuracy (interval above 0)"
        if every is not None and every.low > 0:
            return (f"partly: {what} higher than Reinit over all pairs, but not at matched accuracy"
                    + (" (no matched comparison possible)" if band is None else " (interval includes 0)"))
        if every is None:
            return "not testable: no Reinit pair and a more divergent pair in this store"
        return f"no: {what} not higher than Reinit (interval includes 0 or lies below)"


def confident_right_shares(zoo: ChapterZoo, partners: pd.DataFrame, angles: Angles,
                           n_bootstrap: int = 1000, seed: int = 0) -> PairValue:
    """The confident-right share (%) of every pair with angles, with paired intervals.

    Args:
        zoo: The chapter's zoo.
        partners: The table of :func:`partner_table`.
        angles: The angles of :func:`pair_thetas`.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the bootstrap.

    Returns:
        The shares, with columns ``examples`` (exactly one model right) and the median
        theta where the base, and where the partner, is the one that is right.

    Example:
        >>> shares = confident_right_shares(zoo, partners, angles, 1000, 0)   # doctest: +SKIP
        >>> shares.table[["examples", "value", "low", "high"]]                # doctest: +SKIP
    """
    store = zoo.store
    example_ids = store.examples["example_id"].to_numpy()[store.rows("test")]
    position = pd.Series(np.arange(len(example_ids)), example_ids)
    one, confident = np.zeros((2, len(angles.tables), len(example_ids)), bool)
    for k, table in enumerate(angles.tables.values()):
        rows = position[table["example_id"]].to_numpy()
        one[k, rows] = True
        confident[k, rows] = np.where(table["a_right"], table["theta"] < 45, table["theta"] > 45)
    share = confident_right_share(one, confident, n_bootstrap, seed, LEVEL)
    medians = {side: [t["theta"][t["a_right"] == (side == "base")].median() for t in angles.tables.values()]
               for side in ("base", "other")}
    table = partners.loc[list(angles.tables)].assign(
        examples=one.sum(axis=1), value=share.estimate, low=share.low, high=share.high,
        **{f"median theta, {side} right": values for side, values in medians.items()})
    return PairValue(table, share.samples)


def example_partners(zoo: ChapterZoo, angles: Angles, reinit: str | None = None,
                     architecture: str | None = None, divergent: str | None = None) -> dict[str, str | None]:
    """The partner of each example pair of the paper's Fig. 3 (:data:`EXAMPLE_ROLES`).

    A partner named by the parameters is taken as is; otherwise the first member (in
    store order, never an accuracy control) of the role's categories, in the band
    first, then out of it.

    Args:
        zoo: The chapter's zoo.
        angles: The angles of :func:`pair_thetas` (only partners with angles qualify).
        reinit: The Reinit partner, or None for the rule.
        architecture: The Architecture partner, or None.
        divergent: The Dataset or Framework partner, or None.

    Returns:
        Per role, its partner; None where the store has no such partner.

    Raises:
        ValueError: A named partner has no angles, or no role has a partner.

    Example:
        >>> example_partners(zoo, angles)                                 # doctest: +SKIP
        {'Reinit': 'cnn-seed1', 'Architecture': 'mlp', 'Dataset or Framework': 'cnn-distilled'}
    """
    table, members = zoo.roster.table, set(zoo.roster.members)
    candidates = [m for m in angles.tables if m in members]

    def pick(given: str | None, wanted: list[str]) -> str | None:
        if given is not None:
            if given not in angles.tables:
                raise ValueError(f"{given!r} is not a partner of {zoo.roster.base} with confidences "
                                 f"in {zoo.label}")
            return given
        for inside in (True, False):
            for category in wanted:
                found = [m for m in candidates
                         if table.loc[m, "category"] == category and bool(table.loc[m, "in_band"]) == inside]
                if found:
                    return found[0]
        return None

    examples = {role: pick(given, EXAMPLE_ROLES[role])
                for role, given in zip(EXAMPLE_ROLES, (reinit, architecture, divergent))}
    if all(m is None for m in examples.values()):
        raise ValueError(f"no partner of {zoo.roster.base} with confidences in {zoo.label}: nothing to show")
    return examples


def missing_note(examples: dict[str, str | None]) -> Markdown:
    """One sentence: the example roles without a partner, if any.

    Args:
        examples: The partners of :func:`example_partners`.

    Returns:
        The sentence.
    """
    missing = [role for role, m in examples.items() if m is None]
    return Markdown("No example pair for: " + ", ".join(missing) + " (no such partner in the store)."
                    if missing else "Every example category has a partner in this store.")


def histogram_data(zoo: ChapterZoo, partners: pd.DataFrame, angles: Angles,
                   shown: list[str]) -> pd.DataFrame:
    """The input of :func:`norep.book.plots.specialization.theta_histograms` for some pairs.

    Args:
        zoo: The chapter's zoo.
        partners: The table of :func:`partner_table`.
        angles: The angles of :func:`pair_thetas`.
        shown: The partners to show, one panel each.

    Returns:
        One row per (pair, example): theta, a_right, panel, group, name_a, name_b.
    """
    base = zoo.names[zoo.roster.base]
    return pd.concat([angles.tables[m].assign(panel=partners.loc[m, "panel"], group=partners.loc[m, "group"],
                                              name_a=base, name_b=partners.loc[m, "label"]) for m in shown])


def example_table(zoo: ChapterZoo, shares: PairValue, shown: list[str]) -> pd.DataFrame:
    """The example pairs' confident-right shares and median angles.

    Args:
        zoo: The chapter's zoo.
        shares: The shares of :func:`confident_right_shares`.
        shown: The example partners.

    Returns:
        One row per pair: category, in band, exactly one right, the share with its
        interval, and the median theta (degrees, 1 decimal) on either side.
    """
    rows = shares.table.loc[shown]
    return pd.DataFrame({
        "pair": [f"{zoo.names[zoo.roster.base]} vs {label}" for label in rows["label"]],
        "category": rows["group"].to_numpy(),
        "in band": rows["in_band"].to_numpy(),
        "exactly one right": rows["examples"].to_numpy(),
        "confident-right share (%)": [interval_text(r.value, r.low, r.high) for r in rows.itertuples()],
        **{f"median theta, {side} right (°)": rows[f"median theta, {side} right"].astype(float).round(1).to_numpy()
           for side in ("base", "other")},
    }).set_index("pair")


def effects_order(values: PairValue) -> pd.DataFrame:
    """The pairs in display order, labels with the partner's test accuracy.

    Categories Reinit to Dataset, then the accuracy controls, then undecidable pairs;
    within each, the strongest partner first.

    Args:
        values: A pair value (e.g. the shares of :func:`confident_right_shares`).

    Returns:
        Its table, reordered, with ``label`` as ``"name (accuracy%)"``: the input of
        :func:`norep.book.plots.specialization.pair_effects`.
    """
    table = values.table
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    order = table.assign(rank=[len(CATEGORIES) if control else rank.get(c, len(CATEGORIES) + 1)
                               for c, control in zip(table["category"], table["control"])])
    order = order.sort_values(["rank", "accuracy"], ascending=[True, False], kind="stable")
    return order.assign(label=[f"{p.label} ({p.accuracy:.1f}%)" for p in order.itertuples()])


def subdomain_parts(zoo: ChapterZoo, subdomain: str | None) -> tuple[list[str], Markdown]:
    """The parts of the data to compare on: the classes, and one subdomain column.

    Args:
        zoo: The chapter's zoo.
        subdomain: The examples column wanted; when the store lacks it (or None), the
            first subdomain column found.

    Returns:
        ``["class"]`` plus the subdomain column when the store has one, and a sentence
        saying which parts were used.
    """
    columns = [c for c in zoo.store.examples.columns if c not in ("example_id", "label", "split", "class_name")]
    by = subdomain if subdomain in columns else (columns[0] if columns else None)
    note = Markdown(f"Parts: the {len(zoo.store.classes)} classes"
                    + (f", and the values of `{by}`" if by else "; the store has no subdomain column")
                    + (f" (the parameter asked for `{subdomain}`, which the store lacks)."
                       if subdomain is not None and subdomain != by else "."))
    return ["class"] + ([by] if by else []), note


def subdomain_wins_tables(zoo: ChapterZoo, parts: list[str], n_bootstrap: int = 1000,
                          seed: int = 0) -> pd.DataFrame:
    """Accuracy difference base minus partner on every part, with who wins it.

    Args:
        zoo: The chapter's zoo.
        parts: The columns to split by (see :func:`subdomain_parts`).
        n_bootstrap: Bootstrap samples.
        seed: Seed of the bootstrap.

    Returns:
        One row per (partner, part, subdomain): partner, part, subdomain, n, difference,
        low and high (points) and winner ("a" for the base, "b" for the partner,
        "neither").

    Example:
        >>> wins = subdomain_wins_tables(zoo, ["class", "superclass"], 1000, 0)   # doctest: +SKIP
        >>> wins.groupby(["partner", "part"]).winner.value_counts()              # doctest: +SKIP
    """
    base = zoo.roster.base
    pairs = [(base, m) for m in zoo.roster.table.index if m != base]
    tables = []
    for by in parts:
        table = who_wins_where_many(zoo.store, pairs, by, n_boot=n_bootstrap, level=LEVEL, seed=seed)
        table = table.rename(columns={by: "subdomain", "model_b": "partner"}).dropna(subset=["difference"])
        table[["difference", "low", "high"]] *= 100
        table["winner"] = np.select([table["winner"] == base, table["winner"] == table["partner"]],
                                    ["a", "b"], "neither")
        tables.append(table.drop(columns="model_a").assign(part=by))
    return pd.concat(tables, ignore_index=True)


def wins_panels(partners: pd.DataFrame, wins: pd.DataFrame, shown: list[str], part: str) -> pd.DataFrame:
    """The input of :func:`norep.book.plots.specialization.subdomain_wins` for some pairs.

    Args:
        partners: The table of :func:`partner_table`.
        wins: The table of :func:`subdomain_wins_tables`.
        shown: The partners to show, one panel each.
        part: The part (``"class"`` or a subdomain column).

    Returns:
        The rows of ``wins`` of those pairs on that part, with ``panel`` and ``group``.
    """
    return pd.concat([wins[(wins["partner"] == m) & (wins["part"] == part)].assign(
        panel=partners.loc[m, "panel"], group=partners.loc[m, "group"]) for m in shown])


def class_spreads(zoo: ChapterZoo, partners: pd.DataFrame, n_bootstrap: int = 1000,
                  seed: int = 0) -> PairValue:
    """The class spread (points) of every pair, with paired bootstrap intervals.

    An example a model did not answer counts as wrong.

    Args:
        zoo: The chapter's zoo.
        partners: The table of :func:`partner_table`.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the bootstrap.

    Returns:
        The spreads (see :func:`norep.analysis.specialization.class_spread`).

    Example:
        >>> class_spreads(zoo, partners, 1000, 0).trend().summary   # doctest: +SKIP
    """
    outcomes = read_outcomes(zoo.store, "test", [zoo.roster.base, *partners.index])
    spread = class_spread(outcomes.correct, outcomes.labels, 0, list(range(1, len(partners) + 1)),
                          n_bootstrap, seed, LEVEL)
    return PairValue(partners.assign(value=spread.estimate, low=spread.low, high=spread.high), spread.samples)


def specialization_table(partners: pd.DataFrame, wins: pd.DataFrame, spreads: PairValue) -> pd.DataFrame:
    """Per partner: parts won by each model and the class spread, controls after the categories.

    Args:
        partners: The table of :func:`partner_table`.
        wins: The table of :func:`subdomain_wins_tables`.
        spreads: The spreads of :func:`class_spreads`.

    Returns:
        One row per partner (by display name).

    Example:
        >>> specialization_table(partners, wins, spreads)["class spread (points)"]   # doctest: +SKIP
    """
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    records = []
    for m, p in partners.iterrows():
        record = {"partner": p["label"], "category": p["group"], "in band": p["in_band"],
                  "test accuracy (%)": round(p["accuracy"], 1)}
        for part, (a, b) in win_counts(wins, m).items():
            record[f"{part}: base wins"], record[f"{part}: partner wins"] = a, b
        s = spreads.table.loc[m]
        record["class spread (points)"] = interval_text(s["value"], s["low"], s["high"], digits=2)
        record["_rank"] = len(CATEGORIES) if p["control"] else rank.get(p["category"], len(CATEGORIES) + 1)
        records.append(record)
    return pd.DataFrame(records).sort_values("_rank", kind="stable").drop(columns="_rank").set_index("partner")


def win_counts(wins: pd.DataFrame, partner: str) -> dict[str, tuple[int, int]]:
    """Per part, the subdomains won by the base and by the partner.

    Args:
        wins: The table of :func:`subdomain_wins_tables`.
        partner: The partner.

    Returns:
        Per part (in order of appearance), (base wins, partner wins).

    Example:
        >>> wins = pd.DataFrame({"partner": "p", "part": ["class"] * 3, "winner": ["a", "b", "b"]})
        >>> win_counts(wins, "p")
        {'class': (1, 2)}
    """
    rows = wins[wins["partner"] == partner]
    return {part: (int((rows["winner"][rows["part"] == part] == "a").sum()),
                   int((rows["winner"][rows["part"] == part] == "b").sum())) for part in dict.fromkeys(wins["part"])}


def reinit_row(shares: PairValue) -> tuple[str, str]:
    """What the Reinit pairs' confident-right share is, and whether it sits at 50%.

    Args:
        shares: The shares of :func:`confident_right_shares`.

    Returns:
        The "this book" and "reproduces?" cells of the Reinit row.
    """
    if not shares.reinit.any():
        return "no Reinit pair in this store", "not testable"
    mean = shares.reinit_mean()
    text = (f"Reinit mean share {interval_text(mean.estimate, mean.low, mean.high)}% over "
            f"{shares.reinit.sum()} pair(s)")
    return text, ("yes: Reinit's interval includes 50%" if mean.low <= 50 <= mean.high
                  else "no: even for Reinit the right model is more often the confident one (expected of "
                       "calibrated models); the claim holds only as a difference, row above")


def divergent_row(zoo: ChapterZoo, wins: pd.DataFrame, spreads: PairValue,
                  divergent: str | None) -> tuple[str, str]:
    """Whether the divergent example pair splits the classes and differs by class more than seeds.

    Args:
        zoo: The chapter's zoo.
        wins: The table of :func:`subdomain_wins_tables`.
        spreads: The spreads of :func:`class_spreads`.
        divergent: The Dataset or Framework example partner, or None.

    Returns:
        The "this book" and "reproduces?" cells of the Fig. 4 row.
    """
    if divergent is None:
        return "no Dataset or Framework partner in this store", "not testable"
    p, counts = spreads.table.loc[divergent], win_counts(wins, divergent)
    (base_wins, partner_wins), split = counts["class"], min(counts["class"]) > 0
    text = (f"{zoo.names[zoo.roster.base]} vs {p['label']} ({p['group']}): base wins {base_wins}, "
            f"partner wins {partner_wins} of {len(zoo.store.classes)} classes"
            + "".join(f"; {part}: {a} vs {b}" for part, (a, b) in counts.items() if part != "class"))
    if not spreads.reinit.any():
        return text, ("partly: each model wins some classes (no Reinit pair to compare with)" if split
                      else "no: the divergent pair does not split the classes between its models")
    k, reinit = spreads.table.index.get_loc(divergent), spreads.reinit_mean()
    beyond = percentile_interval(np.asarray(p["value"] - reinit.estimate), spreads.samples[:, k] - reinit.samples,
                                 LEVEL)
    text += f"; class spread minus Reinit's: {interval_text(beyond.estimate, beyond.low, beyond.high, 2)} points"
    wider = beyond.low > 0
    return text, ("yes: each model wins some classes, and they differ by class more than seeds do"
                  if split and wider else
                  "partly: each model wins some classes, but no more unevenly than two seeds "
                  "(spread interval includes Reinit's)" if split else
                  "partly: the models differ by class more than seeds do, but do not each win a class"
                  if wider else "no: neither a split of the classes nor more spread than between seeds")


def paper_rows(zoo: ChapterZoo, shares: PairValue, spreads: PairValue, wins: pd.DataFrame,
               divergent: str | None) -> list[tuple[str, str, str, str]]:
    """The chapter's Paper-vs-this-book rows: Fig. 3 (two claims) and Fig. 4 (two claims).

    Args:
        zoo: The chapter's zoo.
        shares: The confident-right shares of :func:`confident_right_shares`.
        spreads: The class spreads of :func:`class_spreads`.
        wins: The table of :func:`subdomain_wins_tables`.
        divergent: The Dataset or Framework example partner, or None.

    Returns:
        (claim, paper, this book, reproduces?) rows for :func:`norep.book.chapter.paper_vs_book`.

    Example:
        >>> paper_vs_book(paper_rows(zoo, shares, spreads, wins, "cnn-distilled"))   # doctest: +SKIP
    """
    share, spread = shares.trend(), spreads.trend()
    return [
        ("the lone correct model is more confident when methods diverge (Fig 3)",
         "theta histograms split by the right model pull apart for Architecture and Dataset pairs",
         "confident-right share: " + share.sentence("all pairs") + "; " + share.sentence("in the band"),
         share.verdict("the share is")),
        ("... and not for Reinit (Fig 3)", "ResNet-50 vs ResNet-50: the two histograms overlap around 45°",
         *reinit_row(shares)),
        ("a divergent pair specializes on different classes (Fig 4)",
         "CLIP better on anthropogenic classes (ids 500-900), ResNet-50 on nature (ids 0-300)",
         *divergent_row(zoo, wins, spreads, divergent)),
        ("specialization grows with divergence (Fig 4, across pairs)", "shown for one Dataset pair only",
         "class spread: " + spread.sentence("all pairs") + "; " + spread.sentence("in the band"),
         spread.verdict("the spread is")),
    ]
