# %% [markdown]
# # Reproducibility
#
# How this build of the book was made: which notebooks ran and for how long, with
# which packages, on which device, and from which prediction store.

# %% tags=["parameters"]
store = "runs/fashion_mnist"  # prediction store, relative to the book's folder
device = "auto"  # "auto", "cpu", "cuda", "cuda:1", ...

# %%
import os
import platform
from importlib import metadata

import pandas as pd
import torch

from norep.book.build import project_path
from norep.runtime import resolve_device
from norep.store import Store

zoo = Store(project_path(store))

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
PACKAGES = ("norep", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "torch",
            "torchvision", "timm", "open-clip-torch", "matplotlib", "seaborn",
            "jupyter-book", "myst-nb", "jupytext", "papermill", "sphinx", "sphinx-autoapi")
versions = {"python": platform.python_version()}
versions.update({name: metadata.version(name) for name in PACKAGES})
pd.Series(versions, name="version").rename_axis("package").to_frame()

# %% [markdown]
# ## Device

# %%
resolved = resolve_device(device)
pd.Series({
    "requested": device,
    "used": resolved,
    "GPU": (torch.cuda.get_device_name(resolved)
            if resolved.startswith("cuda") else "none"),
    "CPU cores": os.cpu_count(),
    "torch threads": torch.get_num_threads(),
    "platform": platform.platform(),
}, name="value").to_frame()

# %% [markdown]
# ## Prediction store
#
# The store's manifest names the dataset, fingerprints it, and records a sha256 for
# every file; the store verifies each file against it when it is read.

# %%
zoo.verify()  # raises, naming the file, if any file differs from its sha256
splits = zoo.examples["split"].value_counts().reindex(zoo.examples["split"].unique())
files = [project_path(store) / name for name in zoo.manifest["files"]]
pd.Series({
    "store": store,
    "dataset": zoo.manifest["dataset"]["name"],
    "fingerprint": zoo.manifest["dataset"]["fingerprint"],
    "classes": len(zoo.classes),
    "examples": ", ".join(f"{split} {count}" for split, count in splits.items()),
    "models": len(zoo.model_ids),
    "files verified against their sha256": len(files),
    "size (MB)": round(sum(path.stat().st_size for path in files) / 1e6, 1),
    "written with": ", ".join(f"{k} {v}" for k, v in zoo.manifest["versions"].items()),
}, name="value").to_frame()
