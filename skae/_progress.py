"""Progress reports for ``verbose``: tqdm's bars where tqdm is installed, plain lines otherwise.

tqdm is not a dependency: it is imported when a bar is first needed, and its absence is not an error.
"""

import sys

__all__ = ["Progress", "tqdm_available"]


def _tqdm():
    """tqdm's class (the notebook-aware one), or None where tqdm is not installed."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


def tqdm_available():
    return _tqdm() is not None


class Progress:
    """A bar over ``total`` steps of work: tqdm's if available, else a line redrawn on stdout.

    ``plain=False`` draws nothing without tqdm (for a bar whose plain-text version would only repeat
    the lines printed anyway).
    """

    def __init__(self, total, desc, unit, *, leave=True, plain=True):
        self.total = total
        self.unit = unit
        self.done = 0
        tqdm = _tqdm()
        self._bar = tqdm(total=total, desc=desc, unit=unit, leave=leave, dynamic_ncols=True) if tqdm else None
        self._plain = plain and self._bar is None
        self._drawn = False

    def update(self, n=1, **postfix):
        self.done += n
        if self._bar is not None:
            if postfix:
                self._bar.set_postfix(postfix, refresh=False)
            self._bar.update(n)
        elif self._plain:
            width = 30
            filled = int(width * self.done / max(self.total, 1))
            sys.stdout.write(f"\r  [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {self.unit}")
            sys.stdout.flush()
            self._drawn = True

    def write(self, line):
        """Print a whole line without breaking the bar."""
        if self._bar is not None:
            self._bar.write(line, file=sys.stdout)
        else:
            self.end_line()
            print(line)

    def end_line(self):
        if self._drawn:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self._drawn = False

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        self.end_line()
