# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # For instructors
#
# This book teaches **ensemble diversity**: why models trained differently err on
# different examples, how to measure it without being fooled by accuracy, and when it
# makes ensembles better. Every core chapter ends with exercises that ask students to
# **predict, then compute** with `norep` on the chapter's store; each exercise has a
# worked solution, folded behind a toggle in the book.
#
# ## Handing out the notebooks
#
# - **One click.** Each chapter's launch buttons (the rocket at the top of the page)
#   open the student notebook in Colab or Binder; the download button gives the
#   executed notebook. Both are driven by one setting, `repository.url` in
#   `_config.yml` (see the README to publish a fork).
# - **Files.** `norep book student OUT` writes `OUT/book/chapters/<chapter>.ipynb`: the
#   chapters without their solutions (each solution is replaced by an empty cell tagged
#   `answer`), with the values of the course profile (`params/course.yaml`) in their
#   parameters cell.
# - **Outside the repository** (Colab, a downloaded copy), the first code cell of the
#   student notebooks and of the book's downloads clones and installs `norep`, then
#   trains the course store, the small CI zoo of `zoos/fashion_mnist_ci.yaml` (about 3
#   minutes on two cores). Start it at the beginning of the class. Inside the
#   repository the cell does nothing. The chapter sources do not carry it: its one
#   text is `norep.book.install`, inserted where notebooks leave the repository.
# - **One source of truth.** Exercises and solutions live in the chapters
#   (`book/chapters/*.py`), written with the directives of sphinx-exercise. A solution
#   is every cell from the markdown cell that opens a `{solution-start}` directive
#   (with `:class: dropdown`, which folds it) to the cell that holds its
#   `{solution-end}`; a one-cell solution is a `{solution}` directive.
#   `norep.book.student` removes exactly these cells, and a test checks that no
#   solution code is left in the student notebooks and that each of them executes up
#   to its first exercise.
#
# ## The course profile
#
# `params/course.yaml` reads the CI zoo with fewer bootstrap resamples than the default
# profile and one draw of dimensions per feature mix, aiming at under a minute per
# chapter on a 2-core laptop CPU from an existing store:
#
# ```bash
# norep zoo train zoos/fashion_mnist_ci.yaml --store runs/fashion_mnist_ci   # once
# norep book run ensembles -o ensembles.ipynb --profile course
# ```
#
# Intervals are then wider than with the default profile, and a verdict near its
# threshold may change its word. The time each chapter takes with this profile, from
# the saved results of `benchmarks/course_times.py` (the same as on the
# {doc}`performance page <appendix/performance>`); the CPU time counts the command and
# its kernel (user + system), the better guide to an idle laptop when the measuring
# machine was busy:

# %% tags=["parameters"]
course_results = "benchmarks/results/course.json"  # of benchmarks/course_times.py

# %% tags=["hide-input"]
from norep.book.appendix import course_note, course_table, load_results

# %%
course = load_results(course_results)
course_note(course)

# %%
course_table(course)

# %% [markdown]
# ## What each chapter teaches
#
# Class time is a suggestion for reading the chapter's key sections and doing its
# exercises, not counting execution.
#
# ```{list-table}
# :header-rows: 1
#
# * - chapter
#   - teaches
#   - class time
# * - {doc}`The zoo <chapters/zoo>`
#   - divergence categories derived from the methodology; nested divergence; roles
#     (same seed, data only, accuracy controls); the accuracy band, decided on
#     calibration
#   - 10 min
# * - {doc}`Error inconsistency <chapters/error_inconsistency>`
#   - error inconsistency and kappa; paired and crossed bootstrap intervals; the
#     verdict rule and its power; adjusting for accuracy
#   - 25 min
# * - {doc}`Ensembles <chapters/ensembles>`
#   - temperature scaling; two-model ensembles; the identity improvement =
#     EI (c − ½) + (R − L)/M; the conversion rate
#   - 25 min
# * - {doc}`Specialization <chapters/specialization>`
#   - the confidence angle and the confident-right share; who wins which classes; the
#     class spread against seed pairs
#   - 20 min
# * - {doc}`Low-accuracy models <chapters/low_accuracy>`
#   - greedy ensembles selected on calibration, reported on test; weak partners
#     against same-recipe controls
#   - 20 min
# * - {doc}`Feature overlap <chapters/feature_overlap>`
#   - linear probes on mixed embeddings; diversity-ranked compression; CKA and mutual
#     k-NN against ensemble gains
#   - 20 min
# * - {doc}`Downstream <chapters/downstream>`,
#     {doc}`Real predictions <chapters/real_models>`
#   - the same questions on other data and on real ImageNet models (no exercises:
#     material for projects)
#   - reading
# ```
#
# ## A 90-minute class
#
# ```{list-table}
# :header-rows: 1
#
# * - minutes
#   - what
# * - 0-5
#   - open the zoo chapter from its launch button and run its first cell (it trains
#     the course store while you introduce the paper)
# * - 5-15
#   - the zoo: categories and roles; exercise *Name the category of a pair*
# * - 15-25
#   - the zoo's second exercise, *A shared seed*: why every model needs its own seed
# * - 25-45
#   - error inconsistency: the Fig 1 table and the verdict rule; exercises *When kappa
#     and error inconsistency disagree* and *Kappa from error inconsistency*
# * - 45-65
#   - ensembles: the identity and the conversion rate; exercise *Predict the best
#     pair*
# * - 65-80
#   - low-accuracy models: the greedy search; exercise *The base's first greedy
#     addition*
# * - 80-90
#   - discussion: which claims of the paper reproduce here, and which "cannot tell at
#     this size"
# ```
#
# Homework: the specialization and feature-overlap chapters and their exercises.
#
# ## A week
#
# ```{list-table}
# :header-rows: 1
#
# * - day
#   - chapters
#   - exercises
# * - 1
#   - the zoo, error inconsistency
#   - all four
# * - 2
#   - ensembles
#   - both; then rerun the chapter with another base (`-p base cnn-seed1`)
# * - 3
#   - specialization, low-accuracy models
#   - all four
# * - 4
#   - feature overlap, downstream
#   - both of feature overlap
# * - 5
#   - real predictions
#   - a project: one chapter on imported ImageNet predictions
#     (`norep import imagenet-x`) or on a zoo the students train
# ```
#
# ## Learning goals of the exercises
#
# ```{list-table}
# :header-rows: 1
#
# * - chapter
#   - exercise
#   - the student can
# * - the zoo
#   - Name the category of a pair
#   - apply the nested rule: the first methodology field that differs, from the
#     training data down to the seed, names the category
# * - the zoo
#   - A shared seed
#   - explain why a shared seed couples two "different" models, and why the zoo gives
#     every model its own seed
# * - error inconsistency
#   - When kappa and error inconsistency disagree
#   - recognize that error inconsistency is not corrected for chance and rises with an
#     accuracy gap
# * - error inconsistency
#   - Kappa from error inconsistency
#   - derive kappa = 1 − EI / EI_ind and read kappa as error inconsistency relative to
#     independent errors
# * - ensembles
#   - Predict the best pair
#   - see that the best ensemble is rarely the two best models: diversity against
#     strength
# * - ensembles
#   - Temperatures change the ensemble
#   - explain how calibration changes an ensemble's answers though not its members'
# * - specialization
#   - Where a weaker model wins
#   - find a subdomain a weaker model wins, and weigh it against chance (many classes,
#     many partners)
# * - specialization
#   - Rank the confident-right shares
#   - separate the effect of divergence from that of an accuracy gap on the share
# * - low-accuracy models
#   - The base's first greedy addition
#   - select on the calibration split, report on test; see why a weaker, different
#     model is picked first
# * - low-accuracy models
#   - A much weaker helper
#   - judge with an interval whether a much weaker model still helps, against an
#     accuracy control
# * - feature overlap
#   - Does the least similar partner ensemble best?
#   - distinguish representation similarity (CKA) from diversity of answers
# * - feature overlap
#   - Which mixes beat both models?
#   - read a probe on mixed features as a test of complementary information
# ```
