import os

# scikit-learn runs its array-API check (with numpy inputs) only when this is set; set it so that
# no estimator check is skipped. It must be set before scipy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")
