"""Recommenders: the one interface, the non-ML baselines and the Keras models."""
