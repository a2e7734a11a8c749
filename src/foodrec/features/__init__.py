"""The point-in-time feature view over the store and the service's events (see :mod:`foodrec.features.view`).

One module a job: ``clock`` (the time axis), ``vocabulary`` (ids -> indices, the learned part), ``lines`` (orders
encoded), ``history`` (each customer's past lines), ``popularity`` (by area, meal time, hour), ``retrieval``
(candidates) and ``view`` (all of them over one log, kept current).
"""
