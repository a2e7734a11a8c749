"""HTTP routes, one module per concern: recommendations, events, health/metrics, admin, the demo page."""
