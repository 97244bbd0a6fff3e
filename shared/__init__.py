"""Pure code that the client and the server both import.

- ``kinds``: record kinds, fields and the key tier of each field
- ``resettlement``: the rules of a worker's day (release flags, readiness, follow-up cadence, settled
  accommodation for NI 143)
- ``clock``: the hybrid logical clock
- ``merge``: current values and conflicts from a set of versions
- ``crypto``: the crypto envelope (account and PIN keys, sealing, wrapping, field encryption, tags)
- ``protocol``: the v1 wire models
- ``errors``: the exception tree (drawn in its docstring)

Nothing here does I/O or reads clocks, keys or settings from globals: callers pass them in.
"""
