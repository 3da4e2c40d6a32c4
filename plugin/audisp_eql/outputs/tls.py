"""TLS for remote syslog (RFC 5425): the client context and its errors.

The context is made once, when the output is built: the plugin is still root
then, so a private key readable by root alone can be loaded, and every later
reconnect (after a privilege drop too) reuses the key held in memory.
Verification is always on: the collector's chain must lead to `ca_file` (or
the system's trust store) and its certificate must name `server_name` (the
host by default). There is no switch to turn that off.
"""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl

# ssl is imported where a TLS context is made: loading it costs the plugin ~5 MiB
# of RSS, for nothing when no output uses TLS. Without it no SSL error can exist.
MINIMUM_VERSION = "TLSv1_2"   # ssl.TLSVersion member: RFC 5425 as updated by RFC 9662


@dataclass(frozen=True)
class TlsSettings:
    ca_file: str = ""      # "": the system's trust store
    cert_file: str = ""    # client certificate for mutual TLS, with key_file
    key_file: str = ""
    server_name: str = ""  # the name the collector's certificate must carry; "": the host


class TlsSetupError(ValueError):
    """A TLS file could not be used; `key` names the setting (ca_file, cert_file, key_file)."""

    def __init__(self, key: str, path: str, reason: str) -> None:
        super().__init__(f"{key} {path}: {reason}")
        self.key, self.path, self.reason = key, path, reason


def _no_password() -> bytes:
    # Without a callback OpenSSL would prompt on the terminal; the plugin's
    # stdin is auditd's socket.
    raise ValueError("the private key is encrypted; audisp-eql needs an unencrypted key "
                     "(readable by its owner only)")


def make_context(settings: TlsSettings) -> ssl.SSLContext:
    """A client context: TLS 1.2 or later, chain and name verified; raise TlsSetupError."""
    import ssl
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)   # CERT_REQUIRED, check_hostname
    context.minimum_version = ssl.TLSVersion[MINIMUM_VERSION]
    if settings.ca_file:
        try:
            context.load_verify_locations(cafile=settings.ca_file)
        except (OSError, ValueError) as exc:
            raise TlsSetupError("ca_file", settings.ca_file, _reason(exc, "certificate")) from None
    else:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    if settings.cert_file or settings.key_file:
        # The certificate on its own first: OpenSSL's error for the pair does
        # not say which of the two files it could not read.
        try:
            ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_verify_locations(
                cafile=settings.cert_file)
        except (OSError, ValueError) as exc:
            raise TlsSetupError("cert_file", settings.cert_file,
                                _reason(exc, "certificate")) from None
        try:
            context.load_cert_chain(settings.cert_file, settings.key_file or None,
                                    password=_no_password)
        except (OSError, ValueError) as exc:
            reason = _reason(exc, "private key")
            if reason == "KEY_VALUES_MISMATCH":
                reason = f"not the private key of the certificate in {settings.cert_file}"
            raise TlsSetupError("key_file", settings.key_file, reason) from None
    return context


def _reason(exc: BaseException, expected: str) -> str:
    """OpenSSL's words where they help; `expected` ("certificate") where they do not."""
    ssl = sys.modules.get("ssl")
    if ssl is not None and isinstance(exc, ssl.SSLError):
        if exc.reason in ("NO_CERTIFICATE_OR_CRL_FOUND", None) or exc.reason == "PEM lib" \
                or "PEM lib" in str(exc):
            return f"no PEM {expected} in it"
        return exc.reason
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def describe_error(exc: BaseException) -> str:
    """An error from resolving, connecting, the handshake or a send, for the log."""
    ssl = sys.modules.get("ssl")
    if ssl is None:
        pass
    elif isinstance(exc, ssl.SSLCertVerificationError):
        return f"TLS handshake failed: certificate verify failed: {exc.verify_message.rstrip('.')}"
    elif isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return "TLS: the collector closed the connection"
    elif isinstance(exc, ssl.SSLError):
        return f"TLS error: {(exc.reason or str(exc)).replace('_', ' ').lower()}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve the host name: {exc.strerror}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)
