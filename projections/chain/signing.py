"""Ed25519 keys that sign checkpoints: loading, key ids, signing and verifying.

A key id is the first 16 hex digits of the SHA-256 of the raw 32-byte public key, so it
names a key without trusting whoever hands it over: whoever holds the public key can
compute it. Private keys are PKCS#8 PEM files (written with mode 0600).
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class SigningKeyError(ValueError):
    """A key file that cannot be used (missing, unreadable, not Ed25519, too open)."""


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@dataclass(frozen=True)
class SigningKey:
    """A private key and what it signs as."""

    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def write(self, path: Path) -> None:
        """Write the private key as PKCS#8 PEM, readable by its owner only; never over an
        existing file."""
        pem = self.private.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as out:
            out.write(pem)

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """The key in ``path``; SigningKeyError when it is missing, not an Ed25519 private key, or
        readable by others than its owner."""
        try:
            mode = path.stat().st_mode
            data = path.read_bytes()
        except OSError as exc:
            raise SigningKeyError(f"cannot read the signing key {path}: {exc.strerror}") from None
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyError(
                f"the signing key {path} is readable by others (mode {stat.S_IMODE(mode):04o}); "
                f"chmod 600 {path}"
            )
        try:
            private = serialization.load_pem_private_key(data, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{path} is not an unencrypted PEM private key: {exc}") from None
        if not isinstance(private, Ed25519PrivateKey):
            raise SigningKeyError(f"{path} holds a {type(private).__name__}, not an Ed25519 key")
        return cls(private)


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in a PEM file; SigningKeyError otherwise."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SigningKeyError(f"cannot read the public key {path}: {exc.strerror}") from None
    return parse_public_key(data, str(path))


def parse_public_key(data: bytes, where: str) -> Ed25519PublicKey:
    try:
        public = serialization.load_pem_public_key(data)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError(f"{where} is not a PEM public key: {exc}") from None
    if not isinstance(public, Ed25519PublicKey):
        raise SigningKeyError(f"{where} holds a {type(public).__name__}, not an Ed25519 key")
    return public


def verify_signature(public_key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
