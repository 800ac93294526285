"""RSA key pairs for Snowflake key-pair sign-in: generate, load, and show the public half.

Snowflake takes RSA keys of 2048 bits or more; the private key is PKCS#8 PEM, optionally encrypted
with a passphrase. Only the public key is ever shown; errors never quote key material.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from .errors import TutorialError

MIN_KEY_BITS = 2048


@dataclass(frozen=True)
class KeyPair:
    private_pem: str = field(repr=False)
    public_pem: str

    @property
    def public_key_body(self) -> str:
        return public_key_body(self.public_pem)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.public_pem)


def generate(passphrase: str | None = None, bits: int = MIN_KEY_BITS) -> KeyPair:
    """A new RSA key pair; the private key is encrypted when a passphrase is given."""
    if bits < MIN_KEY_BITS:
        raise TutorialError(f"Snowflake needs RSA keys of {MIN_KEY_BITS} bits or more, not {bits}.")
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    encryption = (
        serialization.BestAvailableEncryption(passphrase.encode())
        if passphrase
        else serialization.NoEncryption()
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    ).decode()
    return KeyPair(private_pem, _public_pem(key))


def _public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def load_private_key(text: str, passphrase: str | None = None, field_name: str = "privateKey"):
    """The RSA private key in `text` (PKCS#8 or PKCS#1 PEM, or base64 DER).

    Every problem is one line naming `field_name` and the fix; none quotes the key.
    """
    if not isinstance(text, str) or not text.strip():
        raise TutorialError(f"{field_name} is empty: store the private key's PEM text.")
    password = passphrase.encode() if passphrase else None
    stripped = text.strip()
    try:
        if stripped.startswith("-----BEGIN"):
            key = serialization.load_pem_private_key(stripped.encode(), password=password)
        else:
            der = base64.b64decode("".join(stripped.split()), validate=True)
            key = serialization.load_der_private_key(der, password=password)
    except TypeError:
        if passphrase:
            raise TutorialError(
                f"{field_name} is not encrypted, but a passphrase is set: remove the passphrase."
            ) from None
        raise TutorialError(
            f"{field_name} is encrypted and no passphrase is set: add the key's passphrase."
        ) from None
    except ValueError as error:
        if "password" in str(error).lower() or "decrypt" in str(error).lower():
            raise TutorialError(
                f"The passphrase does not decrypt {field_name}: set the passphrase the key was "
                "encrypted with."
            ) from None
        raise TutorialError(
            f"{field_name} is not a readable private key (truncated, or not PEM or DER): store "
            "the whole PEM text, from -----BEGIN to -----END."
        ) from None
    except Exception:  # binascii.Error and any parser failure: still no key material in the message
        raise TutorialError(
            f"{field_name} is not a readable private key (not PEM or base64 DER): store the whole "
            "PEM text, from -----BEGIN to -----END."
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TutorialError(f"{field_name} is not an RSA key: Snowflake takes RSA keys only.")
    if key.key_size < MIN_KEY_BITS:
        raise TutorialError(
            f"{field_name} is a {key.key_size}-bit RSA key; Snowflake needs {MIN_KEY_BITS} bits "
            "or more: generate a new key."
        )
    return key


def private_key_der(key) -> bytes:
    """The unencrypted PKCS#8 DER bytes the Snowflake connector takes as `private_key`."""
    return key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def public_pem_of(key) -> str:
    return _public_pem(key)


def public_key_body(public_pem: str) -> str:
    """The base64 body Snowflake's ALTER USER ... SET RSA_PUBLIC_KEY takes (no header lines)."""
    lines = [line for line in public_pem.strip().splitlines() if not line.startswith("-----")]
    return "".join(lines)


def fingerprint(public_pem: str) -> str:
    """SHA256:<base64>, the value Snowflake shows as RSA_PUBLIC_KEY_FP in DESC USER."""
    der = base64.b64decode(public_key_body(public_pem))
    return "SHA256:" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def alter_user_statement(user: str, public_pem: str, slot: int = 1) -> str:
    """The statement a Snowflake user admin runs to register the public key (slot 1 or 2).

    The key, about 400 characters, gets a line of its own, so the statement reads where it is shown.
    """
    column = "RSA_PUBLIC_KEY" if slot == 1 else "RSA_PUBLIC_KEY_2"
    return f"ALTER USER {user} SET {column} =\n  '{public_key_body(public_pem)}';"
