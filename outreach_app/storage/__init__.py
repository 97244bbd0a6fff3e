"""The device's local database: ciphertext exactly as the server stores it, keys under the device key."""

from outreach_app.storage.store import LocalStore, StateKey, StoreRebuilt

__all__ = ["LocalStore", "StateKey", "StoreRebuilt"]
