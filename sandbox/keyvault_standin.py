"""An HTTPS Azure Key Vault stand-in on 127.0.0.1 for the unmodified azure-keyvault-secrets SDK.

Why HTTPS and a challenge: the SDK refuses to send a bearer token over plain http, and it discovers the
tenant and scope by first sending the request without a token and reading the 401 bearer challenge
(`WWW-Authenticate: Bearer authorization="https://login.microsoftonline.com/<tenant>",
resource="https://vault.azure.net"`). So the stand-in generates a throw-away CA and a server certificate
for 127.0.0.1 at start (`ca_file` is the bundle to trust), answers the challenge, and only then serves
secrets to requests that carry a token it issued (`credential()` hands one out).

Covered: GET /secrets/{name} and /secrets/{name}/{version} (secret bundle JSON; 404 SecretNotFound), the
unauthenticated 401 challenge, refused tokens (401 with the challenge again, as Key Vault does), scripted
status faults (500, 503, 403, ...) for authenticated requests, and per-outcome request counters.
The SDK checks that the challenge's resource matches the vault's domain; a loopback vault never does, so
clients pass `verify_challenge_resource=False` (and `connection_verify=ca_file`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import json
import re
import shutil
import socket
import ssl
import tempfile
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Literal, Self
from urllib.parse import parse_qs, unquote, urlsplit

from azure.core.credentials import AccessToken, AccessTokenInfo, TokenRequestOptions
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sandbox.services import Service, serve_in_background, shut_down

VAULT_RESOURCE = "https://vault.azure.net"
VAULT_SCOPE = VAULT_RESOURCE + "/.default"
AUTHORITY = "https://login.microsoftonline.com"
SECRET_NAME = re.compile(r"^[0-9A-Za-z-]{1,127}$")  # Key Vault's rule for object names

Authorization = Literal["none", "accepted", "refused"]


@dataclass(frozen=True)
class SeenRequest:
    """One request as the stand-in saw it (never the token itself)."""

    method: str
    path: str
    api_version: str | None
    authorization: Authorization
    status: int


@dataclass(frozen=True)
class _SecretVersion:
    version: str
    value: str
    content_type: str | None
    created: int


class StaticTokenCredential:
    """A TokenCredential that always returns one token and remembers what it was asked for.

    `scopes` and `tenants` show that the SDK took the scope and tenant from the vault's challenge.
    """

    def __init__(self, token: str, *, lifetime_seconds: int = 3600) -> None:
        self._token = token
        self._lifetime = lifetime_seconds
        self.scopes: list[str] = []
        self.tenants: list[str | None] = []

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        self._record(scopes, tenant_id)
        return AccessToken(self._token, int(time.time()) + self._lifetime)

    def get_token_info(self, *scopes: str, options: TokenRequestOptions | None = None) -> AccessTokenInfo:
        self._record(scopes, (options or {}).get("tenant_id"))
        return AccessTokenInfo(self._token, int(time.time()) + self._lifetime)

    def close(self) -> None:
        """Nothing to release; present because the SDK's credentials have it."""

    def _record(self, scopes: Iterable[str], tenant_id: str | None) -> None:
        self.scopes.extend(scopes)
        self.tenants.append(tenant_id)


class KeyVaultStandIn(Service):
    """A vault of secrets behind HTTPS and Key Vault's challenge protocol; use as a context manager."""

    def __init__(self, *, tenant_id: str = "72f988bf-86f1-41af-91ab-2d7cd011db47") -> None:
        self.tenant_id = tenant_id
        self.token = "kv-standin-" + uuid.uuid4().hex  # the one token this vault accepts (see credential())
        self._secrets: dict[
            str, tuple[str, list[_SecretVersion]]
        ] = {}  # lower-cased name -> (name, versions)
        self._faults: deque[int] = deque()
        self._fault_always: int | None = None
        self._refuse_all = False
        self._counts: Counter[str] = Counter()
        self._seen: list[SeenRequest] = []
        self._lock = threading.Lock()
        self._dir: Path | None = None
        self._server: _TlsServer | None = None
        self._thread: threading.Thread | None = None

    # --- what tests and the sandbox use ---------------------------------------------------------------
    @property
    def vault_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the Key Vault stand-in is not running")
        host, port = self._server.server_address[:2]
        return f"https://{host!s}:{port}"

    @property
    def ca_file(self) -> str:
        """PEM bundle of the CA that signed the server's certificate (connection_verify / REQUESTS_CA_BUNDLE)."""
        if self._dir is None:
            raise RuntimeError("the Key Vault stand-in is not running")
        return str(self._dir / "ca.pem")

    @property
    def challenge(self) -> str:
        """The WWW-Authenticate header of a 401, exactly as Key Vault words it."""
        return f'Bearer authorization="{AUTHORITY}/{self.tenant_id}", resource="{VAULT_RESOURCE}"'

    def credential(self, token: str | None = None) -> StaticTokenCredential:
        """A credential handing out this vault's token (or `token`, to test a refused one)."""
        return StaticTokenCredential(token or self.token)

    def set_secret(self, name: str, value: str, *, content_type: str | None = None) -> str:
        """Add a new version of a secret (the latest wins) and return its version id."""
        if not SECRET_NAME.fullmatch(name):
            raise ValueError(f"invalid Key Vault secret name {name!r}")
        version = uuid.uuid4().hex
        with self._lock:
            stored_name, versions = self._secrets.get(name.lower(), (name, []))
            versions.append(_SecretVersion(version, value, content_type, int(time.time())))
            self._secrets[name.lower()] = (stored_name, versions)
        return version

    def delete_secret(self, name: str) -> None:
        with self._lock:
            self._secrets.pop(name.lower(), None)

    def fail_requests(self, status: int, *, times: int | None = 1) -> None:
        """The next `times` authenticated requests get `status` (None: every one, until clear_faults)."""
        with self._lock:
            if times is None:
                self._fault_always = status
            else:
                self._faults.extend([status] * times)

    def refuse_tokens(self, refuse: bool = True) -> None:
        """Answer every token with 401 and the challenge, as for a token of the wrong tenant or audience."""
        with self._lock:
            self._refuse_all = refuse

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._fault_always = None
            self._refuse_all = False

    def counts(self) -> dict[str, int]:
        """Requests by outcome: challenged, served, not_found, refused, faulted, bad_request."""
        with self._lock:
            return dict(self._counts)

    @property
    def seen(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._seen)

    def reset_counters(self) -> None:
        with self._lock:
            self._counts.clear()
            self._seen.clear()

    # --- lifecycle --------------------------------------------------------------------------------------
    def start(self) -> Self:
        self._dir = Path(tempfile.mkdtemp(prefix="kv-standin-"))
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(*_write_certificates(self._dir))
        handler = type("BoundKeyVaultHandler", (_Handler,), {"vault": self})
        self._server = _TlsServer(("127.0.0.1", 0), handler, context)
        self._thread = serve_in_background(self._server, "keyvault-standin")
        return self

    def stop(self) -> None:
        shut_down(self._server)
        self._server = None
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    # --- the protocol -----------------------------------------------------------------------------------
    def answer(
        self, method: str, raw_path: str, authorization_header: str | None
    ) -> tuple[int, dict[str, str], Any]:
        """Status, headers and JSON body for one request (the handler only does the I/O)."""
        split = urlsplit(raw_path)
        api_versions = parse_qs(split.query).get("api-version")
        api_version = api_versions[0] if api_versions else None
        scheme, _, token = (authorization_header or "").partition(" ")
        presented = scheme.lower() == "bearer" and bool(token.strip())
        with self._lock:
            refuse = self._refuse_all or (presented and token.strip() != self.token)
            if not presented:
                authorization: Authorization = "none"
            else:
                authorization = "refused" if refuse else "accepted"
            outcome, status, headers, body = self._route(method, split.path, api_version, authorization)
            self._counts[outcome] += 1
            self._seen.append(SeenRequest(method, split.path, api_version, authorization, status))
        return status, headers, body

    def _route(
        self, method: str, path: str, api_version: str | None, authorization: Authorization
    ) -> tuple[str, int, dict[str, str], Any]:
        if authorization == "none":
            return (
                "challenged",
                401,
                self._challenge_headers(),
                _error("Unauthorized", "AKV10000: Request is missing a Bearer or PoP token."),
            )
        if authorization == "refused":
            headers = self._challenge_headers()
            headers["WWW-Authenticate"] += ', error="invalid_token"'
            return "refused", 401, headers, _error("Unauthorized", "AKV10022: Invalid audience.")
        fault = self._faults.popleft() if self._faults else self._fault_always
        if fault is not None:
            return "faulted", fault, {}, _fault_body(fault)
        if not api_version:
            return (
                "bad_request",
                400,
                {},
                _error("BadParameter", "The api-version query parameter is missing."),
            )
        parts = [unquote(part) for part in path.strip("/").split("/")]
        if method != "GET" or len(parts) not in (2, 3) or parts[0] != "secrets":
            return (
                "bad_request",
                405 if method != "GET" else 404,
                {},
                _error(
                    "BadParameter",
                    f"The stand-in serves GET /secrets/{{name}}[/{{version}}] only, not {method}.",
                ),
            )
        name, version = parts[1], (parts[2] if len(parts) == 3 else "")
        if not SECRET_NAME.fullmatch(name):
            return "bad_request", 400, {}, _error("BadParameter", "The secret name is invalid.")
        stored = self._secrets.get(name.lower())
        chosen = None
        if stored is not None:
            versions = stored[1]
            chosen = (
                versions[-1] if not version else next((v for v in versions if v.version == version), None)
            )
        if stored is None or chosen is None:
            return (
                "not_found",
                404,
                {},
                _error(
                    "SecretNotFound",
                    f"A secret with (name/id) {name}{'/' + version if version else ''} was not found in this key "
                    "vault. If you recently deleted this secret you may be able to recover it using the correct "
                    "recovery command. For help resolving this issue, please see "
                    "https://go.microsoft.com/fwlink/?linkid=2125182",
                ),
            )
        return "served", 200, {}, self._bundle(stored[0], chosen)

    def _bundle(self, name: str, secret: _SecretVersion) -> dict[str, Any]:
        bundle: dict[str, Any] = {
            "value": secret.value,
            "id": f"{self.vault_url}/secrets/{name}/{secret.version}",
            "attributes": {
                "enabled": True,
                "created": secret.created,
                "updated": secret.created,
                "recoveryLevel": "Recoverable+Purgeable",
                "recoverableDays": 90,
            },
            "tags": {},
        }
        if secret.content_type is not None:
            bundle["contentType"] = secret.content_type
        return bundle

    def _challenge_headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.challenge}


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


def _fault_body(status: int) -> dict[str, Any]:
    if status == 403:
        return {
            "error": {
                "code": "Forbidden",
                "message": "Caller is not authorized to perform action on resource. "
                "Action: 'Microsoft.KeyVault/vaults/secrets/getSecret/action'",
                "innererror": {"code": "ForbiddenByRbac"},
            }
        }
    if status == 429:
        return _error("Throttled", "Request was not processed because too many requests were received.")
    return _error(
        "InternalServerError" if status < 503 else "ServiceUnavailable", "The stand-in failed on purpose."
    )


class _TlsServer(ThreadingHTTPServer):
    """Accepts plain TCP and does the TLS handshake in the request's own thread, so a client that stalls
    or rejects the certificate cannot block the accept loop."""

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        context: ssl.SSLContext,
    ) -> None:
        super().__init__(address, handler)
        self.tls = context

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            tls_socket = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return  # e.g. the client did not trust the certificate: it sees the failed handshake
        try:
            super().finish_request(tls_socket, client_address)
        except (ssl.SSLError, ConnectionError):
            pass  # the client went away mid-request
        finally:
            with contextlib.suppress(OSError):
                tls_socket.shutdown(socket.SHUT_RDWR)
            tls_socket.close()

    def shutdown_request(self, request: Any) -> None:
        with contextlib.suppress(OSError):
            request.close()  # already detached by wrap_socket; closing a detached socket is harmless


class _Handler(BaseHTTPRequestHandler):
    vault: ClassVar[KeyVaultStandIn]
    protocol_version = "HTTP/1.1"  # keep-alive, as Key Vault offers
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        status, headers, body = self.vault.answer(self.command, self.path, self.headers.get("Authorization"))
        payload = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.send_header("x-ms-keyvault-service-version", "1.9.0.0")
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: tests read the logs for leaked secrets."""


def _write_certificates(directory: Path) -> tuple[str, str]:
    """A throw-away CA (ca.pem) and a server certificate for 127.0.0.1/localhost signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Key Vault stand-in test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    server_key = ec.generate_private_key(ec.SECP256R1())
    server_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
        .issuer_name(ca_name)
        .public_key(server_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(server_key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (directory / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    cert_file, key_file = directory / "server.pem", directory / "server.key"
    cert_file.write_bytes(server_cert.public_bytes(pem))
    key_file.write_bytes(
        server_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_file.chmod(0o600)
    return str(cert_file), str(key_file)
