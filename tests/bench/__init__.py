"""``make bench``: the sync workloads of issue 3 (W1 against PouchDB, W2, W3); see ``__main__``."""
