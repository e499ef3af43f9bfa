import os

# scikit-learn runs its array-API check (with numpy inputs) only when this is set; set it so that
# no estimator check is skipped. It must be set before scipy is imported.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

import pytest  # noqa: E402
import torch  # noqa: E402

# The suite fits hundreds of tiny networks, for which one intra-op thread is fastest and, on a
# shared machine, far less sensitive to load. This is the test harness's choice; the library itself
# never changes torch's thread count (tests check that fit leaves it as it was).
torch.set_num_threads(1)


def pytest_collection_modifyitems(items):
    # The docstring examples fit for a few epochs on purpose (to stay quick); their ConvergenceWarning
    # is expected and not part of what they show. (Applies when tests/ is collected too, as in the
    # README's `python -m pytest -n auto`.)
    quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
    for item in items:
        if type(item).__name__ == "DoctestItem":
            item.add_marker(quiet)
