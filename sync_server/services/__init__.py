"""Business rules. Routes call these; these call ``sync_server.storage`` and raise ``ApiError``s.

- ``tokens``: the Ed25519 JWT signer/verifier and opaque refresh tokens
- ``auth``: prelogin, register, login, refresh, and turning an access token into a caller
- ``organisation``: organisations, invitations, the organisation key setup
- ``sync``: push and pull
"""
