"""foodrec: recommend what a food-delivery customer is likely to order now.

The package walks the universal workflow of machine learning on an order log:
ingest -> explore -> baselines -> Keras model -> report -> serve -> A/B -> monitor.
"""

__version__ = "0.1.0"
