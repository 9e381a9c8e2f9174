"""Personal data that can be erased while the event log stays immutable (crypto-shredding, docs/operations.md).

Each user gets a data key (AES-256) of their own. Their email and display name are stored sealed under it, in
events and in everything folded from events (state, snapshots, read models):

    pii1.<base64url(nonce 12 bytes | AES-GCM ciphertext and tag)>     associated data "<userId>|<field>"

(the associated data binds a sealed value to its user and field: it cannot be copied into another user's event).
The data key itself is kept only encrypted by KMS (envelope encryption: GenerateDataKey / Decrypt, the KMS key
PersonalDataKey, encryption context {"userId": id}) in the keys table (KEYS_TABLE), apart from the events. Erasing
the user deletes that item: from then on nothing can open their sealed values, wherever copies of them are.

The same table holds the email reservations that make emails unique: `email#<hmac>` -> userId, where the HMAC
(KMS GenerateMac with the HMAC key EmailMacKey) is of the normalised email, so the table never holds an email.

Reads open values with a per-process cache of decrypted data keys (bounded, short TTL) keyed by the encrypted
key blob: a read still fetches the key item (one consistent GetItem: an erased key is never served from the
cache), but it costs no KMS call while the blob is cached.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections import OrderedDict
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "pii1."


def key_pk(user_id: str) -> str:
    return f"key#{user_id}"


def email_pk(email_mac: str) -> str:
    return f"email#{email_mac}"


def seal(key: bytes, user_id: str, field: str, value: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(key).encrypt(nonce, value.encode(), f"{user_id}|{field}".encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def unseal(key: bytes | None, user_id: str, field: str, value: Any) -> str | None:
    """The plain value, or None when the key is gone (erased) or the value is not sealed for this user/field."""
    if key is None or not isinstance(value, str) or not value.startswith(PREFIX):
        return None
    raw = value[len(PREFIX):]
    try:
        blob = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        return AESGCM(key).decrypt(blob[:12], blob[12:], f"{user_id}|{field}".encode()).decode()
    except (InvalidTag, ValueError):
        return None


class KeyCache:
    """Decrypted data keys by the hash of their encrypted blob: at most `size` entries, each for `ttl` seconds."""

    def __init__(self, size: int = 1024, ttl: float = 300.0):
        self.size, self.ttl = size, ttl
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = self.misses = 0

    def get(self, blob: bytes) -> bytes | None:
        name = hashlib.sha256(blob).hexdigest()
        with self._lock:
            entry = self._entries.get(name)
            if entry is None or entry[0] < time.monotonic():
                self._entries.pop(name, None)
                self.misses += 1
                return None
            self._entries.move_to_end(name)
            self.hits += 1
            return entry[1]

    def put(self, blob: bytes, key: bytes) -> None:
        with self._lock:
            self._entries[hashlib.sha256(blob).hexdigest()] = (time.monotonic() + self.ttl, key)
            self._entries.move_to_end(hashlib.sha256(blob).hexdigest())
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def drop(self, blob: bytes) -> None:
        with self._lock:
            self._entries.pop(hashlib.sha256(blob).hexdigest(), None)


class Vault:
    """The keys table and the two KMS keys: data keys per user, email MACs, and the transaction items for them."""

    def __init__(self, dynamodb: Any, kms: Any, keys_table: str, data_key_id: str, mac_key_id: str,
                 cache: KeyCache | None = None):
        self.dynamodb, self.kms = dynamodb, kms
        self.keys_table, self.data_key_id, self.mac_key_id = keys_table, data_key_id, mac_key_id
        self.cache = cache or KeyCache()

    # ---- data keys ---------------------------------------------------------------------------------
    def new_data_key(self, user_id: str) -> tuple[bytes, dict[str, Any]]:
        """A fresh data key and the transaction item that stores it (encrypted) if the user has none yet."""
        made = self.kms.generate_data_key(KeyId=self.data_key_id, KeySpec="AES_256",
                                          EncryptionContext={"userId": user_id})
        self.cache.put(made["CiphertextBlob"], made["Plaintext"])
        # base64 text (not B): the item stays plain JSON wherever it is dumped (backups, the local state dir)
        item = {"pk": {"S": key_pk(user_id)}, "userId": {"S": user_id},
                "encryptedKey": {"S": base64.b64encode(made["CiphertextBlob"]).decode()}}
        return made["Plaintext"], {"Put": {"TableName": self.keys_table, "Item": item,
                                           "ConditionExpression": "attribute_not_exists(pk)"}}

    def data_key(self, user_id: str) -> bytes | None:
        """The user's data key, or None when there is none (never registered, or erased)."""
        item = self.dynamodb.get_item(TableName=self.keys_table, Key={"pk": {"S": key_pk(user_id)}},
                                      ConsistentRead=True).get("Item")
        if item is None:
            return None
        blob = base64.b64decode(item["encryptedKey"]["S"])
        key = self.cache.get(blob)
        if key is None:
            key = self.kms.decrypt(CiphertextBlob=blob, KeyId=self.data_key_id,
                                   EncryptionContext={"userId": user_id})["Plaintext"]
            self.cache.put(blob, key)
        return key

    def erase_items(self, user_id: str, email: str | None) -> list[dict[str, Any]]:
        """Transaction items that destroy the user's data key and release their email."""
        items = [{"Delete": {"TableName": self.keys_table, "Key": {"pk": {"S": key_pk(user_id)}}}}]
        if email is not None:
            items.append(self.release_email(user_id, email))
        return items

    # ---- email reservations --------------------------------------------------------------------------
    def email_mac(self, email: str) -> str:
        mac = self.kms.generate_mac(KeyId=self.mac_key_id, MacAlgorithm="HMAC_SHA_256", Message=email.encode())
        return base64.urlsafe_b64encode(mac["Mac"]).decode().rstrip("=")

    def reserve_email(self, user_id: str, email: str) -> dict[str, Any]:
        """A Put that fails (ConditionalCheckFailed) when another user holds the email."""
        item = {"pk": {"S": email_pk(self.email_mac(email))}, "userId": {"S": user_id}}
        return {"Put": {"TableName": self.keys_table, "Item": item,
                        "ConditionExpression": "attribute_not_exists(pk) OR userId = :me",
                        "ExpressionAttributeValues": {":me": {"S": user_id}}}}

    def release_email(self, user_id: str, email: str) -> dict[str, Any]:
        return {"Delete": {"TableName": self.keys_table, "Key": {"pk": {"S": email_pk(self.email_mac(email))}},
                           "ConditionExpression": "attribute_not_exists(pk) OR userId = :me",
                           "ExpressionAttributeValues": {":me": {"S": user_id}}}}

    # ---- opening -------------------------------------------------------------------------------------
    def open_fields(self, user_id: str, values: dict[str, Any], fields: tuple[str, ...],
                    key: bytes | None | bool = False) -> dict[str, Any]:
        """`values` with each of `fields` opened (None when erased). `key` False: fetch it."""
        if key is False:
            key = self.data_key(user_id)
        return {**values, **{f: unseal(key, user_id, f, values[f]) for f in fields if f in values}}
