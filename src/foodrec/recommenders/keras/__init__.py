"""The Keras recommender: features from the past, custom layers, the ranking model, honest training.

Importing this package is cheap; Keras/TensorFlow load only when a model is built, trained or loaded.
"""
