"""Medians and spreads of repeated runs, and the text forms the report uses."""

import math
import statistics


class Stat:
    """The median of one figure over the runs that produced it, with min and max."""

    def __init__(self, values):
        self.values = [v for v in values if isinstance(v, (int, float)) and not math.isnan(v)]
        self.n = len(self.values)
        self.median = statistics.median(self.values) if self.values else None
        self.lo = min(self.values) if self.values else None
        self.hi = max(self.values) if self.values else None

    def __bool__(self):
        return self.median is not None


def collect(runs, impl, metric):
    """Stat of runs[i][impl][metric] over the runs."""
    return Stat([r.get(impl, {}).get(metric) for r in runs])


def si(value, digits=3):
    """1234567 -> '1.23 M'."""
    if value is None:
        return "-"
    for factor, suffix in ((1e9, " G"), (1e6, " M"), (1e3, " k")):
        if abs(value) >= factor:
            return "%s%s" % (_sig(value / factor, digits), suffix)
    return _sig(value, digits)


def _sig(value, digits):
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return "%.*f" % (decimals, value)


def show(stat, form=None, unit=""):
    """'median (min-max)' in one form (default: 3 significant digits), or '-'."""
    if not stat:
        return "-"
    form = form or (lambda v: _sig(v, 3))
    text = form(stat.median) + unit
    if stat.n > 1:
        text += " (%s-%s)" % (form(stat.lo), form(stat.hi))
    return text


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b
