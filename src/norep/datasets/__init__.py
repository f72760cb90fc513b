"""Datasets: Fashion-MNIST (the mini zoo's data), ImageNet classes and annotations, verified downloads."""
