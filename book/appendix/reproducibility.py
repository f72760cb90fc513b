# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Reproducibility
#
# How this build of the book was made: which notebooks ran and for how long, with
# which packages, on which device, and from which prediction store.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
device = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...

# %% tags=["hide-input"]
from norep.book.appendix import device_table, package_versions, store_table

# %% [markdown]
# ## Executions
#
# Every notebook of the book, when it was executed and for how long. `norep book build`
# executes each notebook with papermill (method `cache`: taken from the execution
# cache, which is keyed on the notebook, its parameters, the `norep` package and the
# store it reads); `jupyter-book build .` executes them itself.
#
# ```{nb-exec-table}
# ```

# %% [markdown]
# ## Packages

# %%
package_versions()

# %% [markdown]
# ## Device
#
# The device the `device` parameter resolves to (`auto`: a GPU when there is one),
# and the CPU the book ran on.

# %%
device_table(device)

# %% [markdown]
# ## Prediction store
#
# The store's manifest names the dataset, fingerprints it, and records a sha256 for
# every file; the store verifies each file against it when it is read, and this page
# verifies them all (an error names any file that differs).

# %%
store_table(store)
