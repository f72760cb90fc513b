# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Feature overlap
#
# The paper's Fig 6 asks whether models trained differently learn *different features*
# rather than the same features with different errors. It trains linear probes on the
# frozen penultimate embeddings of two models: on **mixes** of their dimensions (a mix
# beats either model when the two carry complementary information, and more so the more
# their methodologies diverge), and on the **most diverse dimensions** of their
# concatenation (a divergent pair reaches a target accuracy with fewer features). Beside
# the probes, this chapter measures the **representational similarity** of each pair
# (linear CKA, debiased CKA, mutual k-NN alignment) and asks whether it is ordered by
# divergence like error inconsistency, and whether it predicts ensemble gains.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
base = "cnn-seed0"  # the model every pair is formed with
band = 0.01  # half-width of the accuracy band around the base (fraction)
seed = 0  # seed of the held-out rows, the draws of dimensions and the bootstrap
n_draws = 2  # draws of dimensions per share of a mix
n_bootstrap = 1000  # bootstrap resamples of the test examples
device = "auto"  # torch device of the probes: "cpu", "cuda", "auto"

# %% tags=["hide-input"]
import pandas as pd

from norep.book.chapter import open_zoo, paper_vs_book
from norep.book.chapters.feature_overlap import (
    claims,
    compress,
    feature_similarity,
    mix_embeddings,
    read_probe_data,
)

pd.set_option("display.max_colwidth", None)  # tables of prose: show every word
zoo = open_zoo(store, base, band)
zoo.intro()

# %% [markdown]
# ## The probes
#
# A probe is a multinomial logistic regression on frozen embeddings
# (`norep.analysis.probes`): features standardized with the mean and standard deviation
# of its training rows, trained full-batch with L-BFGS, an L2 penalty on the weights
# (not the bias). Its rows come from the store's **probe** split (training images none
# of the models was selected on); a store without one (predictions over a validation
# set, as `norep predict` writes for ImageNet) gives its **calibration** split instead,
# never the test split, and the line below says which. 20% of the rows (seeded) are
# held out. The base's own probe chooses the penalty from $10^{-5}, \dots, 10^{-1}$ by
# accuracy on the held-out rows and is refitted on all probe rows; every other probe of
# the chapter reuses that penalty and is fitted once on all probe rows (a choice per
# probe would cost six fits each). Every accuracy below is on the **test** split. Only
# networks have embeddings; the others are listed and left out.

# %%
embeddings = read_probe_data(zoo, seed, device)
embeddings.shown()

# %% [markdown]
# ## Mixed embeddings (Fig 6 left and center)
#
# For the base and each partner, a budget of $d = \min(d_\text{base}, d_\text{partner})$
# dimensions is split at 0/100, 25/75, 50/50, 75/25 and 100/0 between the base and
# the partner; each share draws its dimensions uniformly without replacement, `n_draws`
# times (seeded), and every draw gets its own probe. The accuracy of a share is the mean
# over its draws. A mix **beats either model** when the 50/50 mix is more accurate than
# the better of 100/0 (the base alone) and 0/100 (the partner alone).
#
# A pair's interval is **example-only**: a 95% percentile interval of a bootstrap over
# test examples (each resample redraws the test examples once for all partners and
# shares, paired; the draws of dimensions are averaged within it, not resampled). It
# covers the noise of the test set, not that of the probes' training, of the draws, or
# of which partner happened to be trained. A category's mean gain has a **crossed**
# interval: each sample also redraws the partners within their category. Columns: the
# base's share / the partner's share of the budget.

# %%
mixes = mix_embeddings(embeddings, n_draws, n_bootstrap, seed)
mixes.shown()

# %%
figure = mixes.figure()

# %% [markdown]
# The verdict follows the book's one rule (`norep.analysis.verdicts.contrast_verdict`)
# on the most minus the least divergent category's mean gain: "yes" only when its
# crossed interval is above 0; "no" when it is below 0 (the paper gives no size for
# this rise, so there is no paper effect to compare); otherwise "cannot tell at this
# size". Beside it, the smallest difference this zoo detects with 80% power, from the
# spread of the gains within each category and the number of partners.

# %%
mixes.verdicts()

# %% [markdown]
# ## Compression (Fig 6 right)
#
# The base's and the partner's embeddings are concatenated and their dimensions ranked
# greedily by **diversity** (`norep.analysis.features.diversity_ranking`): with
# $\Sigma$ the covariance of the standardized training rows and $S$ the dimensions
# already chosen, the next dimension maximizes
#
# $$s_j = \Sigma_{jj} - \Sigma_{jS} \Sigma_{SS}^{-1} \Sigma_{Sj},$$
#
# the variance it does not share linearly with those before it (Cholesky factorization
# with diagonal pivoting). A probe is trained on the top $k$ for $k$ from a sixteenth
# to twice the base's dimensionality. The target is the accuracy of the base's own probe
# on all its dimensions (the paper's 76% is about its base's 76.5%); the table counts
# the features each pair needs to reach it.

# %%
compression = compress(embeddings, n_bootstrap, seed)
figure = compression.figure()

# %%
compression.by_category()

# %% [markdown]
# Each pair has one compression curve, so the category means' intervals redraw the
# partners within their category only (no example resampling). The paper's effect,
# Dataset − Reinit in features needed, is scaled to this base's dimensionality: with
# power for it and an interval around 0, the verdict is "no".

# %%
compression.verdicts()

# %% [markdown]
# ## Feature similarity
#
# Linear CKA and debiased CKA (`norep.analysis.similarity`) compare the base's and each
# partner's test embeddings on every test example; mutual k-NN alignment (k = 10) the
# share of each example's 10 nearest neighbours the two embeddings have in common, on
# 2,000 test examples (seeded). Beside them: the pair's error inconsistency and its
# two-model ensemble gain (accuracy of the temperature-scaled ensemble minus the
# members' mean).

# %%
similarity = feature_similarity(embeddings, seed, n_bootstrap)
similarity.shown()

# %% [markdown]
# Is similarity ordered by divergence category like error inconsistency is (falling
# while error inconsistency rises)? The verdicts apply the book's rule to the most
# minus the least divergent category, with intervals from redrawing the partners
# within their category (the similarities use every test example once: the examples
# are not resampled here) and the power beside them. And does similarity predict the
# ensemble gain? A representation that differs should ensemble better: a negative
# rank correlation.

# %%
similarity.trends()

# %%
similarity.predicts_gain()

# %% [markdown]
# ## Paper vs this book
#
# The paper probes ImageNet embeddings of 2,048 dimensions (its base: a ResNet-50); this
# store's are much smaller and its partners fewer. A verdict's word follows the book's
# rule on the most minus the least divergent category (its interval with partners
# redrawn, its power beside it), then whether the category means are in monotone
# order; "mixes beat either model" is counted per pair.

# %%
paper_vs_book(claims(mixes, compression, similarity))

# %% [markdown]
# ## Exercises
#
# Each exercise asks for a prediction before a computation with `norep` on this page's
# store. The solutions are folded: open one after trying. The student notebooks
# (`norep book student OUT`) leave them out.

# %% [markdown]
# ```{exercise} Does the least similar partner ensemble best?
# :label: fo-cka
#
# Predict: is the partner whose embeddings are least similar to the base's (lowest
# linear CKA) also the one whose two-model ensemble with the base gains most? Check it
# with `similarity.table` (columns `linear_cka`, `ensemble_gain`).
# ```

# %% [markdown]
# ````{solution-start} fo-cka
# :class: dropdown
# ````
#
# CKA compares whole representations, error inconsistency compares answers. Two models
# can encode the same classes in differently rotated or scaled features (low CKA) and
# still make the same errors, and a partner that is much weaker has low similarity and
# a small gain. The ranking below sets the two orders side by side; the chapter's
# rank correlations say how far one predicts the other across all partners.

# %%
from norep.book.chapters import feature_overlap as chapter

chapter.similarity_ranking(similarity)

# %% [markdown]
# ````{solution-end}
# ````

# %% [markdown]
# ```{exercise} Which mixes beat both models?
# :label: fo-mix
#
# A probe on a 50/50 mix of the base's and a partner's dimensions beats both models
# when the two embeddings carry complementary information. Predict which partners'
# mixes will beat both, by category, then rank the partners by the mix's gain over the
# better model alone (`mixes.table`, columns `gain`, `gain_low`, `gain_high`).
# ```

# %% [markdown]
# ````{solution-start} fo-mix
# :class: dropdown
# ````
#
# Half of each embedding keeps most of what each model knows when its dimensions are
# redundant; the mix then gains when the two halves know different things. One
# expects a Reinit partner's features to repeat the base's, leaving its mix little to
# add, and a divergent partner's to add more; the ranking shows whether this store
# agrees. A gain whose interval includes 0 does not beat both models.

# %%
from norep.book.chapters import feature_overlap as chapter

chapter.mix_ranking(mixes)

# %% [markdown]
# ````{solution-end}
# ````
