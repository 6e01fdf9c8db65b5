"""Recommendations: the interface every backend implements, and the embedded engine.

Amazon Personalize (personalize.py) and the embedded engine both implement
`interface.Recommender`. The embedded engine serves Personalize's recipes from memory with
`implicit`, laid out as implicit lays out its algorithms: one module per recipe behind a shared
base, the saved model and the evaluation beside them. Nothing here imports Flask, boto3 or the
AWS adapter.

This file imports nothing, so reading the interface, the metric names or the recipe names loads
neither numpy nor implicit. The modules, each importing only those above it:

- `interface`: the `Recommender` protocol, its result types and `RecommenderUnavailable`.
- `metrics`: Personalize's offline metric names, their definitions and `metrics_table`.
- `recipes`: the registry: each recipe's name and the module:class that implements it.
- `model_files`: `ModelParams`, `TrainedModel`, fingerprints, and saving and loading a model
  (with the app's ratings it was trained on).
- `reloading`: `ModelWatch`, which notices a model file `flask train` replaced (one stat).
- `weights`: each interaction's confidence, and the users x items matrix of them.
- `ranking`: `top_items`, the cut every list goes through.
- `blas`: `one_blas_thread`, BLAS on one thread while a query or a training runs.
- `bounded`: `NormOrder`, the best items by a dot product without scoring every item.
- `users`: `UserState` and fold-in: a user's state from training or from the history the caller
  read, the states last computed kept in a bounded LRU.
- `sequence`: the "rated next" matrix and score.
- `base`: `EmbeddedRecommender`, what every recipe shares (training, saving, recommending).
- one module per recipe, as `recipes.RECIPE_CLASSES` names them: a subclass of the base each.
- `evaluation`: the offline protocol (held-out users, time split) that `flask evaluate` runs.

A new recipe is one more such module and its line in `recipes.RECIPE_CLASSES`.
"""
