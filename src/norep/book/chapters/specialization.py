"""The chapter "Specialization": confidence angles, who wins where, and their verdicts.

Every pair is (base, partner), with every other model of the store as a partner
(members, accuracy controls, undecidable ones and the other roles alike, in store
order); only members with a decided category count in the category means. The chapter
computes two pair values with paired bootstrap intervals over the test examples, the
confident-right share (:func:`confident_right_shares`) and the class spread
(:func:`class_spreads`), and reads their trend with divergence (:meth:`PairValue.trend`)
on category means with crossed intervals (the partners redrawn within their category,
and the examples). It repeats those summaries with each model of the base's recipe as
the base (:func:`every_base`), compares the class spread of all pairs of each kind with
that of the seed pairs of the base's recipe (:func:`kinds_versus_seeds`), shows who
wins which subdomain (:func:`subdomain_wins_tables`) and closes with :func:`paper_rows`.

Example:
    >>> zoo = open_zoo("runs/fashion_mnist", "cnn-seed0", 0.01)       # doctest: +SKIP
    >>> partners = partner_table(zoo)                                  # doctest: +SKIP
    >>> angles = pair_thetas(zoo, temperature_scaling=True)            # doctest: +SKIP
    >>> shares = confident_right_shares(zoo, partners, angles, 1000, 0)  # doctest: +SKIP
    >>> shares.trend().text("Trend of the confident-right share.")     # doctest: +SKIP
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from IPython.display import Markdown
from matplotlib.figure import Figure

from norep.analysis.bootstrap import Interval, model_weights, pair_weights
from norep.analysis.power import detectable_difference, detectable_from_interval
from norep.analysis.specialization import (
    CategoryTrend,
    category_trend,
    class_spread,
    confident_right_share,
    pair_mean,
)
from norep.analysis.verdicts import Contrast, contrast_verdict, interval_text, power_text
from norep.book.chapter import ChapterZoo
from norep.book.plots.specialization import pair_sets
from norep.book.views import fit_temperatures, pair_angles, who_wins_where_many
from norep.store import read_outcomes
from norep.zoo import CATEGORIES
from norep.zoo.roster import DATA_ONLY_LABEL, Roster, make_roster

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
        (category, accuracy control or undecidable), ``category``, ``role``, ``control``,
        ``counted`` (a member with a decided category: counted in the category means),
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
        "label": table["name"], "group": table["group"], "category": table["category"], "role": table["role"],
        "control": table["role"] == "accuracy-control", "counted": table.index.isin(roster.partners),
        "in_band": table["in_band"].astype(bool), "accuracy": accuracy}).drop(index=roster.base)
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
        agreeing: Partners left out: no test example that exactly one model of the pair
            gets right (e.g. both models wrong everywhere).
    """

    tables: dict[str, pd.DataFrame]
    skipped: list[str]
    temperatures: dict[str, float]
    agreeing: list[str]

    def note(self, zoo: ChapterZoo) -> Markdown:
        """The pairs with angles, those left out and the temperatures; when no pair has
        angles, one more sentence saying that the angles have nothing to show."""
        skipped, agreeing = (", ".join(zoo.names[m] for m in models) for models in (self.skipped, self.agreeing))
        return Markdown(f"{len(self.tables)} pairs have confidences on both sides"
                        + (f"; left out (no confidences): {skipped}." if skipped else ".")
                        + (f" Left out (no test example that exactly one model of the pair gets right): "
                           f"{agreeing}." if agreeing else "")
                        + " Temperatures: " + ("fitted on calibration" if self.temperatures
                                               else "none (raw confidences)") + "."
                        + ("" if self.tables else " " + self.nothing_to_show(zoo)))

    def nothing_to_show(self, zoo: ChapterZoo) -> str:
        """Why no pair has a confidence angle, with the test accuracies of the models in question."""
        models = [zoo.roster.base, *self.agreeing, *self.skipped]
        accuracy = 100 * read_outcomes(zoo.store, "test", models).accuracy
        return (f"Nothing to show: no pair of {zoo.names[zoo.roster.base]} with another model has a test "
                f"example that exactly one of the two gets right with confidences on both sides (test "
                f"accuracies {accuracy.min():.1f}% to {accuracy.max():.1f}%), so this store has no "
                "confidence angle, no confident-right share and no example pair.")


def pair_thetas(zoo: ChapterZoo, temperature_scaling: bool = True,
                temperatures: dict[str, float] | None = None, device: str = "cpu") -> Angles:
    """The confidence angles of the base with every partner on the test split.

    Args:
        zoo: The chapter's zoo.
        temperature_scaling: Scale the confidences of every model with logits by its own
            temperature, fitted on the calibration split (when the store has one).
        temperatures: Temperatures already fitted (e.g. ``Angles.temperatures`` of
            another base), used as they are instead of fitting.
        device: Where temperatures are fitted: "cpu" (the default), "cuda" or "auto"
            (see :func:`norep.analysis.calibration.fit_temperature`).

    Returns:
        The angles, in degrees.

    Example:
        >>> angles = pair_thetas(zoo, temperature_scaling=False)   # doctest: +SKIP
        >>> angles.tables["mlp"][["theta", "a_right"]].head()      # doctest: +SKIP
    """
    store, base, table = zoo.store, zoo.roster.base, zoo.roster.table
    if temperatures is None:
        with_logits = list(table.index[table["has_logits"]])
        scale = temperature_scaling and "calibration" in set(store.examples["split"]) and with_logits
        temperatures = fit_temperatures(store, with_logits, "calibration", device) if scale else {}
    tables, skipped, agreeing = {}, [], []
    for m in (m for m in table.index if m != base):
        angles = pair_angles(store, base, m, "test", temperatures)
        with_confidences = angles.dropna(subset=["theta"])
        if len(with_confidences):
            tables[m] = with_confidences.assign(theta=np.degrees(with_confidences["theta"]),
                                                a_right=with_confidences["right"] == base)
        else:
            (skipped if len(angles) else agreeing).append(m)
    return Angles(tables, skipped, temperatures, agreeing)


@dataclass(frozen=True)
class PairValue:
    """One value per pair (base, partner) with paired bootstrap intervals over the examples.

    Attributes:
        table: The rows of :func:`partner_table` of the pairs, with columns ``value``,
            ``low`` and ``high`` added (and any value-specific ones); the intervals
            resample the test examples only.
        samples: The bootstrap values on shared resamples, shape (B, pairs).
        seed: Seed of the bootstrap: the partners are redrawn with it for the crossed
            intervals of the category means.
    """

    table: pd.DataFrame
    samples: np.ndarray
    seed: int = 0

    def weights(self, counted: np.ndarray) -> np.ndarray:
        """Pair weights when the counted partners are redrawn within their category, shape (B, pairs).

        The base is never redrawn, so a pair weighs as often as its partner is drawn;
        partners not counted keep weight 1.
        """
        strata = np.where(counted, self.table["category"].to_numpy(object), None)
        return model_weights(list(strata), len(self.samples), self.seed)

    def trend(self) -> Trend:
        """Category means and the trend with divergence, over all pairs and in the band.

        Only the counted partners (members with a decided category) enter the categories;
        the means and the contrast get crossed intervals (partners and examples
        resampled). Accuracy controls and partners of the other roles are listed apart,
        each with its own value and its interval over the examples.
        """
        table = self.table
        counted, value = table["counted"].to_numpy(bool), table["value"].to_numpy(float)
        categories = table["category"].to_numpy(object)
        sets = {}
        for name, selected in zip(SETS, (np.ones(len(table), bool), table["in_band"].to_numpy(bool))):
            keep = counted & selected
            sets[name] = category_trend(categories, value, self.samples, keep, LEVEL, self.weights(keep))
        summary = {}
        for name, result in sets.items():
            for c, mean in result.means.items():
                summary.setdefault(c, {})[f"{name}: pairs"] = str(result.pairs[c])
                summary[c][f"{name}: mean"] = interval_text(mean.estimate, mean.low, mean.high, digits=2)
        for k in np.flatnonzero(~counted & (table["role"] != "member").to_numpy()):
            role = "control" if table["control"].iloc[k] else table["role"].iloc[k]
            summary[f"{role}: {table['label'].iloc[k]}"] = {
                "all pairs: pairs": "1",
                "all pairs: mean": interval_text(value[k], table["low"].iloc[k], table["high"].iloc[k], 2)}
        return Trend(pd.DataFrame(summary).T.fillna("-").rename_axis("category"), sets)

    @property
    def reinit(self) -> np.ndarray:
        """Which pairs are counted Reinit pairs, shape (pairs,)."""
        return ((self.table["category"] == "Reinit") & self.table["counted"]).to_numpy(bool)

    def reinit_mean(self) -> Interval:
        """The mean over the Reinit pairs (at least one), with its crossed interval."""
        return pair_mean(self.table["value"].to_numpy(float), self.samples, self.reinit,
                         self.weights(self.reinit), LEVEL)


@dataclass(frozen=True)
class Trend:
    """A pair value's category means and its trend with divergence, in words.

    Attributes:
        summary: Per category (and per partner listed apart), the pairs and the mean with
            its interval (crossed for the categories), over all pairs and in the band.
        sets: Per set of pairs (:data:`SETS`), the trend.
    """

    summary: pd.DataFrame
    sets: dict[str, CategoryTrend]

    def contrast(self, name: str) -> Contrast | None:
        """The most divergent categories minus Reinit over one set of pairs, with its verdict.

        Args:
            name: The set of pairs, one of :data:`SETS`.

        Returns:
            The contrast (:func:`norep.analysis.verdicts.contrast_verdict`: crossed
            interval and detectable difference; the paper gives no size), or None
            without a Reinit pair and a more divergent one.
        """
        trend = self.sets[name]
        if trend.contrast is None:
            return None
        d = trend.contrast
        return contrast_verdict(f"{' and '.join(trend.top)} − Reinit", float(d.estimate), d.samples,
                                trend.detectable, level=LEVEL, digits=2)

    def sentence(self, name: str) -> str:
        """The trend over one set of pairs: Spearman's rho and the contrast with Reinit.

        Args:
            name: The set of pairs, one of :data:`SETS`.

        Returns:
            One clause, e.g. "all pairs (16 pairs): Spearman rho = 0.21; Framework − Reinit:
            +2.98 [+0.62, +5.14]; detectable at 80% power: ±2.10; no paper effect to compare".
        """
        contrast = self.contrast(name)
        if contrast is None:
            return f"{name}: no Reinit pair and a more divergent one to compare"
        return f"{name} ({self.sets[name].n} pairs): Spearman rho = {self.sets[name].rho:.2f}; {contrast.text}"

    def text(self, intro: str) -> Markdown:
        """The intro followed by the sentence of every set of pairs.

        Args:
            intro: The first sentence, e.g. what the value is.

        Returns:
            The paragraph.
        """
        return Markdown(f"{intro} " + "; ".join(self.sentence(name) for name in self.sets) + ".")

    def verdict(self) -> str:
        """The verdict on the most divergent categories exceeding Reinit, with its power.

        Read at matched accuracy (in the band) when that set has a contrast, else over
        all pairs.

        Returns:
            The word of :func:`norep.analysis.verdicts.contrast_verdict` ("yes", "no" or
            "cannot tell at this size"), or "not testable", with where it was read and
            the detectable difference.
        """
        name = "in the band" if self.sets["in the band"].contrast is not None else "all pairs"
        contrast = self.contrast(name)
        if contrast is None:
            return "not testable: no Reinit pair and a more divergent pair in this store"
        where = ("at matched accuracy (pairs in the band)" if name == "in the band"
                 else "over all pairs (no matched comparison possible)")
        return f"{contrast.verdict}: read {where}; {power_text(contrast.detectable)}"


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
    return PairValue(table, share.samples, seed)


def example_partners(zoo: ChapterZoo, angles: Angles, reinit: str | None = None,
                     architecture: str | None = None, divergent: str | None = None) -> dict[str, str | None]:
    """The partner of each example pair of the paper's Fig. 3 (:data:`EXAMPLE_ROLES`).

    A partner named by the parameters is taken as is; otherwise the first member (in
    store order, with the role "member": never an accuracy control or a model of another
    role) of the role's categories, in the band first, then out of it. The band is
    decided on the calibration split, and nothing here reads the test split.

    Args:
        zoo: The chapter's zoo.
        angles: The angles of :func:`pair_thetas` (only partners with angles qualify).
        reinit: The Reinit partner, or None for the rule.
        architecture: The Architecture partner, or None.
        divergent: The Dataset or Framework partner, or None.

    Returns:
        Per role, its partner; None where the store has no such partner (every role
        when no pair has angles: see :meth:`Angles.nothing_to_show`).

    Raises:
        ValueError: A named partner has no angles.

    Example:
        >>> example_partners(zoo, angles)                                 # doctest: +SKIP
        {'Reinit': 'cnn-seed1', 'Architecture': 'mlp', 'Dataset or Framework': 'cnn-distilled'}
    """
    table, members = zoo.roster.table, set(zoo.roster.partners)
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

    return {role: pick(given, EXAMPLE_ROLES[role])
            for role, given in zip(EXAMPLE_ROLES, (reinit, architecture, divergent))}


def missing_note(examples: dict[str, str | None]) -> Markdown:
    """One sentence: the example roles without a partner, if any.

    Args:
        examples: The partners of :func:`example_partners`.

    Returns:
        The sentence.
    """
    missing = [role for role, m in examples.items() if m is None]
    return Markdown("No example pair for: " + ", ".join(missing) + " (no such partner with angles in the store)."
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
    spread = class_spread(outcomes.correct, outcomes.labels, [(0, k) for k in range(1, len(partners) + 1)],
                          n_bootstrap, seed, LEVEL)
    return PairValue(partners.assign(value=spread.estimate, low=spread.low, high=spread.high), spread.samples,
                     seed)


def specialization_table(partners: pd.DataFrame, wins: pd.DataFrame, spreads: PairValue) -> pd.DataFrame:
    """Per partner: parts won by each model and the class spread, controls after the categories.

    Args:
        partners: The table of :func:`partner_table`.
        wins: The table of :func:`subdomain_wins_tables`.
        spreads: The spreads of :func:`class_spreads`.

    Returns:
        One row per partner (by display name).

    Example:
        >>> specialization_table(partners, wins, spreads).iloc[:, -1]   # doctest: +SKIP
    """
    rank = {c: i for i, c in enumerate(CATEGORIES)}
    records = []
    for m, p in partners.iterrows():
        record = {"partner": p["label"], "category": p["group"], "in band": p["in_band"],
                  "test accuracy (%)": round(p["accuracy"], 1)}
        for part, (a, b) in win_counts(wins, m).items():
            record[f"{part}: base wins"], record[f"{part}: partner wins"] = a, b
        s = spreads.table.loc[m]
        record["class spread (points; interval over examples)"] = interval_text(s["value"], s["low"], s["high"],
                                                                                 digits=2)
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


def recipe_seeds(roster: Roster) -> list[str]:
    """The models of the base's recipe: the base, then its Reinit partners (members).

    Example:
        >>> recipe_seeds(zoo.roster)   # doctest: +SKIP
        ['cnn-seed0', 'cnn-seed1', 'cnn-seed2']
    """
    return [roster.base, *roster.in_category("Reinit")]


@dataclass(frozen=True)
class EveryBase:
    """The category summaries of the chapter's two pair values with each model of the base's recipe as base.

    Attributes:
        shares: Per base (the chapter's base first), the trend of its confident-right shares.
        spreads: Per base, the trend of its class spreads.
        names: Display name of each model.
    """

    shares: dict[str, Trend]
    spreads: dict[str, Trend]
    names: dict[str, str]

    def table(self, value: str) -> pd.DataFrame:
        """Per base: the category means over all pairs, and the contrast over each set of pairs.

        Args:
            value: ``"share"`` or ``"spread"``.

        Returns:
            One row per base, then a row "across bases" with the range (min to max) of
            every column; the contrasts carry their crossed intervals.
        """
        trends = self.shares if value == "share" else self.spreads
        rows, ranges = {}, {}
        for base, trend in trends.items():
            row = {}
            for c, mean in trend.sets["all pairs"].means.items():
                row[f"{c} (all pairs)"] = f"{float(mean.estimate):.2f}"
                ranges.setdefault(f"{c} (all pairs)", []).append(float(mean.estimate))
            for name in SETS:
                contrast = trend.contrast(name)
                column = f"most divergent − Reinit ({name})"
                row[column] = "-" if contrast is None else interval_text(contrast.estimate, contrast.low,
                                                                         contrast.high, 2, sign=True)
                if contrast is not None:
                    ranges.setdefault(column, []).append(contrast.estimate)
            rows[self.names[base]] = row
        rows["across bases (min to max)"] = {c: f"{min(v):.2f} to {max(v):.2f}" for c, v in ranges.items()}
        return pd.DataFrame(rows).T.fillna("-").rename_axis("base")

    def text(self, value: str) -> Markdown:
        """How the contrast over all pairs and its verdict change with the base, in one sentence.

        Args:
            value: ``"share"`` or ``"spread"``.
        """
        trends = self.shares if value == "share" else self.spreads
        contrasts = [c for c in (t.contrast("all pairs") for t in trends.values()) if c is not None]
        if not contrasts:
            return Markdown("No base of the recipe has a Reinit pair and a more divergent one.")
        estimates = [c.estimate for c in contrasts]
        verdicts = pd.Series([c.verdict for c in contrasts]).value_counts()
        return Markdown(
            f"With each of the {len(trends)} models of the base's recipe as the base, the most "
            f"divergent categories minus Reinit (all pairs) range from {min(estimates):+.2f} to "
            f"{max(estimates):+.2f} (SD {np.std(estimates, ddof=1) if len(estimates) > 1 else 0:.2f} "
            f"across bases); verdicts: " + ", ".join(f"{word} {n}×" for word, n in verdicts.items()) + ".")


def every_base(zoo: ChapterZoo, angles: Angles, n_bootstrap: int = 1000, seed: int = 0) -> EveryBase:
    """The confident-right share and the class spread with each model of the base's recipe as base.

    Each base gets its own roster (categories, band around its own calibration
    accuracy); the temperatures are those of ``angles``, fitted once.

    Args:
        zoo: The chapter's zoo.
        angles: The chapter base's angles (:func:`pair_thetas`), for their temperatures.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the bootstrap.

    Returns:
        The trends per base.

    Example:
        >>> every_base(zoo, angles, 1000, 0).table("share")   # doctest: +SKIP
    """
    shares, spreads = {}, {}
    for base in recipe_seeds(zoo.roster):
        other = ChapterZoo(zoo.store, make_roster(zoo.store, base, zoo.roster.band), zoo.label)
        partners = partner_table(other)
        thetas = pair_thetas(other, temperatures=angles.temperatures)
        shares[base] = confident_right_shares(other, partners, thetas, n_bootstrap, seed).trend()
        spreads[base] = class_spreads(other, partners, n_bootstrap, seed).trend()
    return EveryBase(shares, spreads, zoo.names)


SEEDS = "seed pairs"
"""The name of the pairs among the models of the base's recipe in :class:`KindsVersusSeeds`."""


def model_kinds(roster: Roster) -> dict[str, list[str]]:
    """The partners of the base grouped by kind: each category above Reinit, then the data-only models.

    Args:
        roster: The chapter's roster.

    Returns:
        Per kind present (a category, or :data:`norep.zoo.roster.DATA_ONLY_LABEL`), its
        models in store order.
    """
    table = roster.table
    kinds = {c: [m for m in roster.partners if table.loc[m, "category"] == c] for c in CATEGORIES[1:]}
    kinds[DATA_ONLY_LABEL] = roster.role("data-only")
    return {kind: models for kind, models in kinds.items() if models}


def kind_of(roster: Roster, model: str) -> str:
    """The kind of :func:`model_kinds` a partner belongs to: its group (category or data-only)."""
    return roster.table.loc[model, "group"]


@dataclass(frozen=True)
class KindsVersusSeeds:
    """The class spread of every pair of the base's recipe with a model of each kind, against the seed pairs.

    Attributes:
        pairs: One row per pair: ``model_a`` (a model of the base's recipe), ``model_b``,
            ``kind`` (:data:`SEEDS` for two models of the recipe), ``value``, ``low`` and
            ``high`` (the pair's class spread in points, interval over the examples).
        means: Per kind (seed pairs first), the mean class spread with its crossed
            interval (models redrawn within the recipe and within each kind, and examples).
        contrasts: Per kind, its mean minus the seed pairs' mean, with its verdict.
        models: Per kind, the number of models of that kind (the recipe's for the seeds).
        names: Display name of each model.
    """

    pairs: pd.DataFrame
    means: dict[str, Interval]
    contrasts: dict[str, Contrast]
    models: dict[str, int]
    names: dict[str, str]

    def table(self) -> pd.DataFrame:
        """Per kind: pairs, models, the mean class spread and its difference from the seed pairs."""
        rows = {}
        for kind, mean in self.means.items():
            contrast = self.contrasts.get(kind)
            pairs = self.pairs[self.pairs["kind"] == kind]["value"]
            rows[kind] = {"pairs": len(pairs), "models of the kind": self.models[kind],
                          "pair range": f"{pairs.min():.2f} to {pairs.max():.2f}",
                          "mean class spread (points)": interval_text(mean.estimate, mean.low, mean.high, 2),
                          "minus seed pairs": "-" if contrast is None else
                          interval_text(contrast.estimate, contrast.low, contrast.high, 2, sign=True),
                          "verdict": "-" if contrast is None else contrast.verdict,
                          "power": "-" if contrast is None else power_text(contrast.detectable)}
        return pd.DataFrame(rows).T.rename_axis("kind")

    def figure(self, highlight: tuple[str, str] | None = None) -> Figure:
        """Every pair's class spread by kind, with the kinds' means and crossed intervals.

        Args:
            highlight: The showcased pair (base, partner) to ring, or None.
        """
        means = pd.DataFrame({k: {"value": float(m.estimate), "low": m.low, "high": m.high}
                              for k, m in self.means.items()}).T
        return pair_sets(self.pairs, means, "class spread (points)", reference=SEEDS, highlight=highlight,
                         title="every pair of a model of the base's recipe with a model of each kind")

    def rank(self, base: str, partner: str) -> str:
        """Where the pair (base, partner) lies among the pairs of its kind, in words.

        Example:
            >>> kinds.rank("cnn-seed0", "cnn-B-seed0")   # doctest: +SKIP
            'its class spread, 9.12 points, is the largest of the 20 pairs of its kind (4.10 to 9.12)'
        """
        row = self.pairs[(self.pairs["model_a"] == base) & (self.pairs["model_b"] == partner)].iloc[0]
        values = self.pairs[self.pairs["kind"] == row["kind"]]["value"]
        place = int((values > row["value"]).sum()) + 1
        where = "the largest" if place == 1 else f"number {place} from the top"
        return (f"its class spread, {row['value']:.2f} points, is {where} of the {len(values)} pairs of its "
                f"kind ({values.min():.2f} to {values.max():.2f})")


def kinds_versus_seeds(zoo: ChapterZoo, n_bootstrap: int = 1000, seed: int = 0) -> KindsVersusSeeds | None:
    """Class spread of every pair (model of the base's recipe, model of a kind), against the seed pairs.

    A showcased pair is one draw of its kind: the base and its partner are one model of
    each side. Here every model of the base's recipe (:func:`recipe_seeds`) is paired
    with every model of each kind (:func:`model_kinds`), and the kind's mean class
    spread is compared with the mean over the pairs among the recipe's models (two seeds:
    no methodological reason to differ by class). The intervals are crossed: each
    sample redraws the recipe's models and each kind's models with replacement (a pair
    counts as often as both its models are drawn) and the test examples. The
    detectable difference takes the standard deviation of each set's pair values and,
    as its number of models, the kind's models and the recipe's (pairs share models,
    so their number would overstate what the zoo can see).

    Args:
        zoo: The chapter's zoo.
        n_bootstrap: Bootstrap samples.
        seed: Seed of the bootstrap.

    Returns:
        The comparison; None when the recipe has fewer than two models (no seed pair).

    Example:
        >>> kinds_versus_seeds(zoo, 1000, 0).table()   # doctest: +SKIP
    """
    roster = zoo.roster
    seeds, kinds = recipe_seeds(roster), model_kinds(roster)
    if len(seeds) < 2:
        return None
    models = seeds + [m for members in kinds.values() for m in members]
    strata = [SEEDS] * len(seeds) + [kind for kind, members in kinds.items() for _ in members]
    pairs = list(itertools.combinations(range(len(seeds)), 2)) + [
        (a, b) for b in range(len(seeds), len(models)) for a in range(len(seeds))]
    outcomes = read_outcomes(zoo.store, "test", models)
    spread = class_spread(outcomes.correct, outcomes.labels, pairs, n_bootstrap, seed, LEVEL)
    first, second = np.array(pairs).T
    kind = np.array([SEEDS if b < len(seeds) else strata[b] for b in second], dtype=object)
    weights = pair_weights(model_weights(strata, n_bootstrap, seed), first, second)
    means = {k: pair_mean(spread.estimate, spread.samples, kind == k, weights, LEVEL) for k in [SEEDS, *kinds]}
    counts = {SEEDS: len(seeds), **{k: len(members) for k, members in kinds.items()}}

    def spread_sd(k: str) -> float:
        values = spread.estimate[kind == k]
        return float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")

    contrasts = {k: contrast_verdict(
        f"{k} − {SEEDS}", float(means[k].estimate - means[SEEDS].estimate), means[k].samples - means[SEEDS].samples,
        detectable_difference(spread_sd(k), counts[k], spread_sd(SEEDS), counts[SEEDS], LEVEL), level=LEVEL,
        digits=2) for k in kinds}
    table = pd.DataFrame({"model_a": [models[a] for a in first], "model_b": [models[b] for b in second],
                          "kind": kind, "value": spread.estimate, "low": spread.low, "high": spread.high})
    return KindsVersusSeeds(table, means, contrasts, counts, zoo.names)


def reinit_row(shares: PairValue) -> tuple[str, str]:
    """What the Reinit pairs' confident-right share is, and whether it sits at 50%.

    Args:
        shares: The shares of :func:`confident_right_shares`.

    Returns:
        The "this book" and "reproduces?" cells of the Reinit row: an interval that
        includes 50% is consistent with the paper but cannot show an absence, so the
        verdict is then "cannot tell at this size"; one that excludes it says "no".
    """
    if not shares.reinit.any():
        return "no Reinit pair in this store", "not testable"
    mean = shares.reinit_mean()
    text = (f"Reinit mean share {interval_text(mean.estimate, mean.low, mean.high)}% over "
            f"{shares.reinit.sum()} pair(s) (partners and examples resampled; a departure from 50% "
            f"{power_text(detectable_from_interval(mean.low, mean.high), 1)} points)")
    return text, ("cannot tell at this size: Reinit's interval includes 50%, as the paper has it, but an "
                  "interval cannot show that a difference is absent" if mean.low <= 50 <= mean.high
                  else "no: even for Reinit the right model is more often the confident one (expected of "
                       "calibrated models); the claim holds only as a difference, row above")


def divergent_row(zoo: ChapterZoo, wins: pd.DataFrame, kinds: KindsVersusSeeds | None,
                  divergent: str | None) -> tuple[str, str]:
    """Whether the divergent example pair splits the classes, and whether its kind differs by class more than seeds.

    The showcased pair only illustrates: the verdict is that of its kind's contrast with
    the seed pairs (:func:`kinds_versus_seeds`), all pairs of the kind against all seed
    pairs, models and examples resampled.

    Args:
        zoo: The chapter's zoo.
        wins: The table of :func:`subdomain_wins_tables`.
        kinds: The comparison of :func:`kinds_versus_seeds` (None without seed pairs).
        divergent: The Dataset or Framework example partner, or None.

    Returns:
        The "this book" and "reproduces?" cells of the Fig. 4 row.
    """
    if divergent is None:
        return "no Dataset or Framework partner in this store", "not testable"
    label, counts = zoo.names[divergent], win_counts(wins, divergent)
    (base_wins, partner_wins), split = counts["class"], min(counts["class"]) > 0
    text = (f"{zoo.names[zoo.roster.base]} vs {label} ({zoo.roster.table.loc[divergent, 'group']}): base wins "
            f"{base_wins}, partner wins {partner_wins} of {len(zoo.store.classes)} classes"
            + "".join(f"; {part}: {a} vs {b}" for part, (a, b) in counts.items() if part != "class"))
    shown = "the showcased pair " + ("splits the classes" if split else "does not split the classes")
    contrast = None if kinds is None else kinds.contrasts.get(kind_of(zoo.roster, divergent))
    if contrast is None:
        why = "no second model of the base's recipe" if kinds is None else "the partner is of no kind compared"
        return text, f"not testable: {why}; {shown}"
    text += f"; {kinds.rank(zoo.roster.base, divergent)}; all pairs of its kind: {contrast.text}"
    return text, (f"{contrast.verdict}: all pairs of the kind against all seed pairs of the base's recipe; "
                  f"{power_text(contrast.detectable)}; {shown}")


def paper_rows(zoo: ChapterZoo, shares: PairValue, spreads: PairValue, wins: pd.DataFrame,
               kinds: KindsVersusSeeds | None, divergent: str | None) -> list[tuple[str, str, str, str]]:
    """The chapter's Paper-vs-this-book rows: Fig. 3 (two claims) and Fig. 4 (two claims).

    Args:
        zoo: The chapter's zoo.
        shares: The confident-right shares of :func:`confident_right_shares`.
        spreads: The class spreads of :func:`class_spreads`.
        wins: The table of :func:`subdomain_wins_tables`.
        kinds: The comparison of :func:`kinds_versus_seeds`.
        divergent: The Dataset or Framework example partner, or None.

    Returns:
        (claim, paper, this book, reproduces?) rows for :func:`norep.book.chapter.paper_vs_book`.

    Example:
        >>> paper_vs_book(paper_rows(zoo, shares, spreads, wins, kinds, "cnn-distilled"))   # doctest: +SKIP
    """
    share, spread = shares.trend(), spreads.trend()
    return [
        ("the lone correct model is more confident when methods diverge (Fig 3)",
         "theta histograms split by the right model pull apart for Architecture and Dataset pairs",
         "confident-right share: " + share.sentence("all pairs") + "; " + share.sentence("in the band"),
         share.verdict()),
        ("... and not for Reinit (Fig 3)", "ResNet-50 vs ResNet-50: the two histograms overlap around 45°",
         *reinit_row(shares)),
        ("a divergent pair specializes on different classes (Fig 4)",
         "CLIP better on anthropogenic classes (ids 500-900), ResNet-50 on nature (ids 0-300)",
         *divergent_row(zoo, wins, kinds, divergent)),
        ("specialization grows with divergence (Fig 4, across pairs)", "shown for one Dataset pair only",
         "class spread: " + spread.sentence("all pairs") + "; " + spread.sentence("in the band"),
         spread.verdict()),
    ]


# Exercises: the questions and their worked solutions (the chapter's "Exercises" section).


def weaker_winners(zoo: ChapterZoo, partners: pd.DataFrame, wins: pd.DataFrame) -> pd.DataFrame | Markdown:
    """The parts of the data that a model less accurate than the base still wins.

    Args:
        zoo: The chapter's zoo.
        partners: The table of :func:`partner_table`.
        wins: The table of :func:`subdomain_wins_tables`.

    Returns:
        One row per (weaker model, part it wins): its group, its overall gap to the base
        (points, base minus model, test split), the part and subdomain, and the model's
        lead there with its 95% interval (points), the widest overall gap first; a
        sentence when no weaker model wins a part.
    """
    base_accuracy = 100 * zoo.base_test_accuracy()
    weaker = partners.index[partners["accuracy"] < base_accuracy]
    won = wins[wins["partner"].isin(weaker) & (wins["winner"] == "b")]
    if won.empty:
        return Markdown("No model less accurate than the base wins a part of the test set at 95%.")
    table = pd.DataFrame({
        "model": partners.loc[won["partner"], "label"].to_numpy(),
        "group": partners.loc[won["partner"], "group"].to_numpy(),
        "overall gap (points)": (base_accuracy - partners.loc[won["partner"], "accuracy"]).round(2).to_numpy(),
        "part": won["part"].to_numpy(), "subdomain": won["subdomain"].to_numpy(),
        "its lead there (points)": [interval_text(-d, -h, -lo, 1, sign=True)
                                    for d, lo, h in zip(won["difference"], won["low"], won["high"])]})
    return table.sort_values("overall gap (points)", ascending=False, kind="stable").reset_index(drop=True)


def share_ranking(shares: PairValue) -> pd.DataFrame:
    """Every model paired with the base, ranked by its confident-right share.

    Args:
        shares: The shares of :func:`confident_right_shares`.

    Returns:
        One row per model, highest share first: rank, group, in the band, test accuracy
        (%) and the share (%) with its interval over the test examples.
    """
    table = shares.table.sort_values("value", ascending=False, kind="stable")
    return pd.DataFrame({
        "rank": np.arange(1, len(table) + 1), "model": table["label"], "group": table["group"],
        "in the band": table["in_band"].map({True: "yes", False: "no"}),
        "test accuracy (%)": table["accuracy"].round(1),
        "confident-right share (%)": [interval_text(v, lo, h) for v, lo, h in
                                      zip(table["value"], table["low"], table["high"])]}).set_index("model")
