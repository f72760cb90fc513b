"""ImageNet: class ids and names, the paper's class-id subdomains, ImageNet-X annotations.

The paper's Fig 4 contrasts classes 0-299 ("nature": animals, plants, natural objects)
with classes 500-899 ("anthropogenic": man-made objects). The ImageNet-X annotations
(the ``imagenet-x`` package) give each validation image a metaclass and the factors
of variation (pose, background, ...) that make it hard.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

NATURE = (0, 300)


ANTHROPOGENIC = (500, 900)


def imagenet_classes() -> tuple[list[str], list[str]]:
    """Return the WordNet ids and names of the 1,000 ImageNet classes, in class-index order.

    Returns:
        (wnids, names), from the annotations the ``imagenet-x`` package ships.

    Example:
        >>> wnids, names = imagenet_classes()
        >>> wnids[0], names[0]
        ('n01440764', 'tench')
    """
    from imagenet_x.utils import get_annotation_path

    table = pd.read_csv(get_annotation_path() / "imagenet_labels.txt", names=["wnid", "name"], dtype=str)
    return table["wnid"].tolist(), table["name"].tolist()


def class_range(labels: np.ndarray) -> np.ndarray:
    """Return the paper's class-id range of each label: nature, anthropogenic or other.

    Args:
        labels: ImageNet class indices.

    Returns:
        One string per label.

    Example:
        >>> class_range(np.array([0, 299, 300, 500, 899, 900])).tolist()
        ['nature', 'nature', 'other', 'anthropogenic', 'anthropogenic', 'other']
    """
    labels = np.asarray(labels)
    return np.select(
        [(labels >= NATURE[0]) & (labels < NATURE[1]),
         (labels >= ANTHROPOGENIC[0]) & (labels < ANTHROPOGENIC[1])],
        ["nature", "anthropogenic"], default="other",
    )


def imagenet_x_subdomains(file_names: pd.Series, labels: np.ndarray) -> pd.DataFrame:
    """Return the ImageNet-X subdomain columns of validation images.

    Args:
        file_names: Validation file names (``ILSVRC2012_val_00000001.JPEG``).
        labels: Their class indices.

    Returns:
        ``metaclass``, ``top_factor``, ``factor_<name>`` and ``prototype``, one row per
        image (see the module docstring).
    """
    from imagenet_x import FACTORS, load_annotations
    from imagenet_x.utils import get_annotation_path, to_metaclass

    folder = get_annotation_path()
    names = pd.Index(file_names)
    top = load_annotations("top", "val", filter_prototypes=False).set_index("file_name").reindex(names)
    multi = load_annotations("multi", "val", filter_prototypes=False).set_index("file_name").reindex(names)
    chosen = top[FACTORS].fillna(0)
    columns = {
        "metaclass": to_metaclass(pd.Series(labels), folder / "imagenet_1k_classes_to_100_metaclasses.csv").to_numpy(),
        "top_factor": chosen.idxmax(axis=1).where(chosen.sum(axis=1) > 0).to_numpy(),
    }
    for factor in FACTORS:
        columns[f"factor_{factor}"] = multi[factor].map({1: True, 0: False}).astype("boolean").array
    prototypes = pd.read_csv(folder / "prototypical_paths.csv")["file_name"]
    columns["prototype"] = names.isin(prototypes)
    return pd.DataFrame(columns)
