"""Recommendations: the interface every backend implements, and the embedded engine.

Amazon Personalize (personalize.py) and the embedded engine both implement
`interface.Recommender`. The embedded engine serves Personalize's recipes from memory with
`implicit`; this package holds it, its saved models and its offline evaluation. It imports
neither Flask nor boto3 nor the AWS adapter.

This file imports nothing, so reading the interface or the metric names loads neither numpy nor
implicit. The modules, each importing only those above it:

- `interface`: the `Recommender` protocol, its result types and `RecommenderUnavailable`.
- `metrics`: Personalize's offline metric names, their definitions and `metrics_table`.
- `evaluation`: the offline protocol (held-out users, time split) that `flask evaluate` runs.
"""
