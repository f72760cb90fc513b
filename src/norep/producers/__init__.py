"""Producers fill prediction stores: mini-zoo training and importers. Analyses never read them."""
