# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Glossary of metrics
#
# Notation: two models $a$ and $b$ are evaluated on the same $n$ examples with labels
# $y_i$. Model $a$ has logits $z_a(x_i)$, softmax probabilities $p_a(x_i)$, top-1
# prediction $\hat y_{a,i}$, top-1 confidence $s_{a,i} = \max_k p_a(x_i)_k$, and
# correctness $c_{a,i} = [\hat y_{a,i} = y_i] \in \{0, 1\}$. Its accuracy is
# $p_a = \frac{1}{n}\sum_i c_{a,i}$. Counting examples by the correctness of the pair,
# $n_{11}$ are right for both, $n_{00}$ wrong for both, $n_{10}$ right for $a$ only and
# $n_{01}$ right for $b$ only.
#
# The example of crossed intervals below is computed from the book's store when this
# page runs.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store of the example, relative to the book
base = "cnn-seed0"  # the base model of the example's pairs
band = 0.01  # half-width of the accuracy band around the base (fraction)
seed = 0  # seed of the bootstrap
n_bootstrap = 1000  # bootstrap samples of the example's intervals

# %% tags=["hide-input"]
from norep.book.chapter import open_zoo
from norep.book.chapters.error_inconsistency import base_pairs

zoo = open_zoo(store, base, band)

# %% [markdown]
# ## Agreement of errors
#
# Error inconsistency
# : The share of examples on which exactly one of the two models is right (the paper's
#   Fig 1). It is not corrected for chance: two weaker models have more errors to
#   disagree on.
#
#   $$\mathrm{EI}(a, b) = \frac{1}{n}\sum_{i=1}^{n} [c_{a,i} \neq c_{b,i}]
#   = \frac{n_{10} + n_{01}}{n}$$
#
# Error consistency kappa
# : The chance-corrected companion (Geirhos et al., 2020): the observed share of
#   examples where both are right or both wrong, against the share expected from two
#   independent models with the same accuracies. Kappa is undefined when
#   $c_{\mathrm{exp}} = 1$ (both models always right, or both always wrong); such a pair
#   has no kappa.
#
#   $$c_{\mathrm{obs}} = 1 - \mathrm{EI}, \qquad
#   c_{\mathrm{exp}} = p_a p_b + (1 - p_a)(1 - p_b), \qquad
#   \kappa = \frac{c_{\mathrm{obs}} - c_{\mathrm{exp}}}{1 - c_{\mathrm{exp}}}$$
#
# Disagreement
# : The share of examples on which the two top-1 predictions differ, right or wrong.
#
#   $$\mathrm{D}(a, b) = \frac{1}{n}\sum_{i=1}^{n} [\hat y_{a,i} \neq \hat y_{b,i}]$$
#
# Double fault
# : The share of examples both models get wrong.
#
#   $$\mathrm{DF}(a, b) = \frac{n_{00}}{n}$$
#
# Either right (oracle)
# : The share of examples at least one model gets right, an upper bound for any rule
#   that picks one of the two answers.
#
#   $$\mathrm{O}(a, b) = \frac{n_{11} + n_{10} + n_{01}}{n}$$
#
# Yule's Q
# : The association of the two correctness vectors, from $-1$ (errors never coincide)
#   to $1$ (errors always coincide); undefined when both products are 0.
#
#   $$Q = \frac{n_{11} n_{00} - n_{10} n_{01}}{n_{11} n_{00} + n_{10} n_{01}}$$
#
# ## Calibration and ensembles
#
# Temperature scaling
# : One scalar $T_a > 0$ per model divides its logits; $T_a$ minimizes the negative
#   log-likelihood on the **calibration split**, never on the test split.
#
#   $$p_a^{T}(x) = \operatorname{softmax}\!\left(\frac{z_a(x)}{T_a}\right), \qquad
#   T_a = \arg\min_{T > 0} -\sum_{i \in \mathrm{calibration}} \log p_a^{T}(x_i)_{y_i}$$
#
# Expected calibration error (ECE)
# : The gap between confidence and accuracy, averaged over $M$ equal-width bins
#   $B_1, \dots, B_M$ of the top-1 confidence ($M = 15$ unless a chapter states
#   otherwise).
#
#   $$\mathrm{ECE} = \sum_{m=1}^{M} \frac{|B_m|}{n}
#   \left| \frac{1}{|B_m|}\sum_{i \in B_m} c_i
#   - \frac{1}{|B_m|}\sum_{i \in B_m} s_i \right|$$
#
# Ensemble
# : The mean of the members' temperature-scaled probabilities; its prediction is the
#   most probable class.
#
#   $$p_{\mathrm{ens}}(x) = \frac{1}{k}\sum_{j=1}^{k} p_j^{T}(x), \qquad
#   \hat y_{\mathrm{ens}} = \arg\max_c p_{\mathrm{ens}}(x)_c$$
#
# Relative ensemble improvement
# : The two-model ensemble's accuracy minus the mean accuracy of its members (in
#   accuracy points).
#
#   $$\Delta(a, b) = \mathrm{acc}(\mathrm{ens}_{a,b}) - \frac{p_a + p_b}{2}$$
#
# Conversion rate
# : Among the examples exactly one member gets right, the share the ensemble gets right.
#
#   $$\mathrm{CR}(a, b) = \frac{\sum_i [c_{a,i} \neq c_{b,i}]\, c_{\mathrm{ens},i}}
#   {\sum_i [c_{a,i} \neq c_{b,i}]}$$
#
# Greedy ensemble selection
# : Start from an anchor model; repeatedly add the candidate that most raises the
#   ensemble's accuracy, until no candidate raises it or a size limit is reached.
#   Candidates can be restricted, for example to models below an accuracy cap.
#   Selection uses the calibration split; accuracies are reported on the test split.
#
# ## Specialization
#
# Specialization angle theta
# : On the examples exactly one of the two models gets right, the angle of the point of
#   top-1 confidences $(s_{a,i}, s_{b,i})$, in degrees: $0^\circ$ when only $a$ is
#   confident, $45^\circ$ when both are equally confident, $90^\circ$ when only $b$ is.
#   Its histograms are split by which model is right.
#
#   $$\theta_i = \frac{180}{\pi}\operatorname{arctan2}(s_{b,i}, s_{a,i}), \qquad
#   i : c_{a,i} \neq c_{b,i}$$
#
# Who wins where
# : The accuracy difference $p_a - p_b$ within each subdomain of the data (a class, a
#   superclass, or any subdomain column of the store), with a bootstrap interval.

# %% [markdown]
# ## Uncertainty and matching
#
# Bootstrap interval
# : Resample the $n$ examples with replacement (the same resample for both models of a
#   pair, and for every pair: a paired bootstrap), recompute the metric, and take the
#   2.5th and 97.5th percentiles of the resampled values; the number of resamples and
#   the seed are chapter parameters. Per pair it is **example-only**; per category it is
#   **crossed** (below).
#
# Detectable difference
# : The smallest difference between two category means that a two-sided test at 5%
#   detects with 80% power, from the standard deviation $s$ of the values within each
#   category and their numbers of models $n$ (normal approximation,
#   `norep.analysis.power.detectable_difference`):
#
#   $$\delta = (z_{0.975} + z_{0.8}) \sqrt{s_a^2 / n_a + s_b^2 / n_b}
#   \approx 2.80 \sqrt{s_a^2 / n_a + s_b^2 / n_b}$$
#
# Verdict
# : One rule for every difference between categories
#   (`norep.analysis.verdicts.contrast_verdict`): **yes** only when the crossed interval
#   excludes 0 in the claimed direction and the contrast was not chosen on the test
#   split; **no** when it excludes 0 the other way, or when it includes 0 although the
#   detectable difference is at most the paper's effect; otherwise **cannot tell at this
#   size**. Each verdict prints the detectable difference beside it.
#
# Accuracy band
# : The models whose calibration accuracy lies within $\pm$ `band` of the base's; the
#   paper compares models in 74-78% ImageNet top-1 around a 76.5% base.

# %% [markdown]
# ### Example-only and crossed intervals
#
# A category's mean over its pairs varies for two reasons: the test examples are one
# sample of the images the models could be tested on, and each model is one draw of its
# training recipe (another seed, another run, errs elsewhere).
#
# Example-only interval
# : The bootstrap interval above: resample the test examples, keep the models. It says
#   how precisely this test set measures *these* models: the interval of one pair, shown
#   in every per-pair table of the book.
#
# Crossed interval
# : Each bootstrap sample also redraws the models of each category with replacement
#   (`norep.analysis.bootstrap.model_weights`; the base is kept), with the same example
#   resamples, and weights every pair by how often its two models were drawn
#   (`pair_weights`). It says how a category's mean would move if its models were
#   trained again, which is what a claim about a training methodology is about: every
#   category mean and every difference between categories in the book has one.
#
# With few models per category the crossed interval is the wider one, and the gap
# between the two is the training variance an example-only interval leaves out. It is
# still approximate: redrawing n models sees about (n − 1)/n of their variance (half
# with two models per category), so with very few models it errs on the narrow side,
# and the detectable difference beside each verdict says how little such a category
# can show. Both,
# side by side, for Fig 1's most minus least divergent category (error inconsistency of
# the pairs with the base, `BasePairs.two_intervals`), on this book's store:

# %%
base_pairs(zoo, n_bootstrap, seed).two_intervals()

# %% [markdown]
# ## This book's choices where the paper is silent
#
# Ensemble rule
# : The paper: not stated. This book: mean of temperature-scaled softmax probabilities.
#
# Temperature split
# : The paper: not stated. This book: fitted per model on the calibration split, by
#   minimizing NLL.
#
# Greedy selection split
# : The paper: not stated. This book: selection on the calibration split, accuracies
#   reported on the test split.
#
# Theta
# : The paper: an angle in the confidence plane. This book:
#   $\operatorname{arctan2}(s_b, s_a)$ in degrees, on the examples exactly one model
#   gets right.
#
# Accuracy matching
# : The paper: 74-78% band. This book: a band around the base's calibration accuracy,
#   and kappa beside error inconsistency.
#
# Uncertainty
# : The paper: none reported. This book: per pair: paired bootstrap over examples; per
#   category: crossed over models and examples, with the detectable difference beside
#   each verdict.
