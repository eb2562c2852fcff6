"""Memory of a model: parameter counts (``params``) and the analytic memory estimator."""
