"""What the fast-path tests share: spying on a fast path, and running a call without it."""


def spy_fast_path(monkeypatch, module, attr):
    """Record, for each call of the fast path ``module.attr``, whether it computed the result."""
    real = getattr(module, attr)
    taken = []

    def spy(*args, **kwargs):
        result = real(*args, **kwargs)
        taken.append(result is not None)
        return result

    monkeypatch.setattr(module, attr, spy)
    return taken


def general_path(monkeypatch, module, attr, thunk):
    """``thunk()`` with the fast path ``module.attr`` switched off: the general path alone."""
    with monkeypatch.context() as m:
        m.setattr(module, attr, lambda *args, **kwargs: None)
        return thunk()
