"""The alerts configuration file: rules, silences, webhooks, SIEM outputs, retry timing.

A YAML file, validated whole; every problem is reported on its own line naming the file,
the line and the field (``alerts.yaml:7: webhooks[0].url: URL scheme should be 'http' or
'https'``). Unknown keys, duplicate keys, anchors and aliases are errors. An empty file
is a configuration with no outputs in which every kind alerts. Example::

    rules:
      kinds: [USE_AFTER_DELETION, USE_OUTSIDE_ALLOWED_CIDRS]   # default: every kind
      silences:
        - name: scanner-network
          networks: [10.20.0.0/16]        # and/or credentials: [cred-1, ...]
          kinds: [NEW_SOURCE_IP]          # default: every kind
          until: 2027-01-01T00:00:00Z     # required, with a time zone
          reason: weekly vulnerability scan
    webhooks:
      - name: soc
        url: https://hooks.example.com/client-audit
        kinds: [USE_AFTER_DELETION]       # default: every kind
        secret_env: SOC_WEBHOOK_SECRET    # or secret: whsec_<base64>
        timeout_s: 10
    siem:
      - name: splunk
        host: siem.example.com
        port: 6514
        format: syslog                    # or cef
    allowed_networks: [127.0.0.1/32]      # destinations let through although not public
    retry: {initial_s: 5, max_interval_s: 900, give_up_after_s: 21600}

Names are unique across webhooks and SIEM outputs together; silence names are unique
among silences. A webhook secret decodes to 24 to 64 bytes and appears in no error, repr
or str.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    model_validator,
)

from projections.alerts.rules import AlertRules, Silence
from projections.model.addresses import Network
from projections.model.anomalies import Anomaly
from relay.backoff import (
    GIVE_UP_AFTER_S_RANGE,
    INITIAL_S_RANGE,
    MAX_INTERVAL_S_RANGE,
    RetryPolicy,
)
from relay.config_lines import (
    MAX_FILE_BYTES,
    AlertConfigError,
    DocPath,
    Located,
    document_of,
    path_text,
)
from relay.signing import parse_secret
from schemas.fields import Identifier, Text, UtcDatetime

__all__ = [
    "AlertConfig",
    "AlertConfigError",
    "RetryPolicy",
    "SiemOutput",
    "WebhookEndpoint",
    "load_alert_config",
    "parse_alert_config",
]

URL_MAX = 2048
TIMEOUT_S_RANGE = (0.1, 60.0)

_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
_HOST_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}\Z){_HOST_LABEL}(?:\.{_HOST_LABEL})*\.?")
_NOT_URL_TEXT = re.compile(r"[^\x21-\x7e]")

# --- the public configuration --------------------------------------------------------------


@dataclass(frozen=True)
class WebhookEndpoint:
    """An HTTP(S) endpoint that receives signed deliveries of the alerts of ``kinds``."""

    name: str
    url: str
    secret: bytes = field(repr=False)
    kinds: frozenset[Anomaly] = frozenset(Anomaly)
    timeout_s: float = 10.0


@dataclass(frozen=True)
class SiemOutput:
    """A SIEM receiving the alerts of ``kinds`` over TCP, as syslog or CEF lines."""

    name: str
    host: str
    port: int
    format: Literal["syslog", "cef"]
    kinds: frozenset[Anomaly] = frozenset(Anomaly)
    timeout_s: float = 10.0


@dataclass(frozen=True)
class AlertConfig:
    """Everything the alerts configuration file says."""

    rules: AlertRules = field(default_factory=AlertRules)
    webhooks: tuple[WebhookEndpoint, ...] = ()
    siem: tuple[SiemOutput, ...] = ()
    allowed_networks: tuple[Network, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)


# --- field types -----------------------------------------------------------------------------


def _name(value: str) -> str:
    if not _NAME.fullmatch(value):
        raise ValueError("must be 1 to 64 characters of A-Z a-z 0-9 . _ -")
    return value


def _kind(value: object) -> object:
    if isinstance(value, str) and value not in Anomaly.__members__:
        valid = ", ".join(Anomaly.__members__)
        raise ValueError(f"unknown kind {value[:64]!r} (kinds: {valid})")
    return value


def _a_list(value: object) -> object:
    if not isinstance(value, list):
        raise ValueError("must be a list")
    return value


def _network(value: object) -> Network:
    if not isinstance(value, str):
        raise ValueError("must be a network in CIDR form, such as 10.0.0.0/8")
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise ValueError(f"not a network without host bits: {exc}") from None


def _url_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("must be a URL")
    if len(value) > URL_MAX:
        raise ValueError(f"must be at most {URL_MAX} characters (got {len(value)})")
    if _NOT_URL_TEXT.search(value):
        raise ValueError("must not hold spaces, control or non-ASCII characters")
    return value


def _url_parts(url: HttpUrl) -> HttpUrl:
    if url.username is not None or url.password is not None:
        raise ValueError("must not hold a user name or password")
    if url.fragment is not None:
        raise ValueError("must not hold a fragment (#...)")
    if not url.host:
        raise ValueError("must name a host")
    return url


def _host(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not _HOSTNAME.fullmatch(value):
            raise ValueError("must be a host name or an IP address") from None
    return value


def _secret(value: object) -> bytes:
    if not isinstance(value, str):
        raise ValueError("must be text: whsec_<base64>")
    return parse_secret(value)


def _env_name(value: str) -> str:
    if not _ENV_NAME.fullmatch(value):
        raise ValueError("must be an environment variable name (A-Z a-z 0-9 _)")
    return value


Name = Annotated[str, AfterValidator(_name)]
Kind = Annotated[Anomaly, BeforeValidator(_kind)]
Kinds = Annotated[frozenset[Kind], BeforeValidator(_a_list), Field(min_length=1)]
NetworkField = Annotated[Network, BeforeValidator(_network)]
Networks = Annotated[tuple[NetworkField, ...], BeforeValidator(_a_list)]
Url = Annotated[HttpUrl, BeforeValidator(_url_text), AfterValidator(_url_parts)]
Timeout = Annotated[float, Field(ge=TIMEOUT_S_RANGE[0], le=TIMEOUT_S_RANGE[1])]


# --- the file as written ---------------------------------------------------------------------


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class _SilenceEntry(_Entry):
    name: Name
    until: UtcDatetime
    reason: Annotated[Text, Field(min_length=1)]
    credentials: Annotated[tuple[Identifier, ...], BeforeValidator(_a_list)] = ()
    networks: Networks = ()
    kinds: Kinds | None = None

    @model_validator(mode="after")
    def _valid(self) -> _SilenceEntry:
        self.silence()
        return self

    def silence(self) -> Silence:
        return Silence(
            name=self.name,
            until=self.until,
            reason=self.reason,
            credentials=frozenset(self.credentials),
            networks=self.networks,
            kinds=self.kinds or frozenset(),
        )


class _RulesEntry(_Entry):
    kinds: Annotated[frozenset[Kind], BeforeValidator(_a_list)] = frozenset(Anomaly)
    silences: Annotated[tuple[_SilenceEntry, ...], BeforeValidator(_a_list)] = ()


class _WebhookEntry(_Entry):
    name: Name
    url: Url
    kinds: Kinds = frozenset(Anomaly)
    secret: Annotated[bytes | None, BeforeValidator(_secret), Field(repr=False)] = None
    secret_env: Annotated[str, AfterValidator(_env_name)] | None = None
    timeout_s: Timeout = 10.0

    @model_validator(mode="after")
    def _one_secret(self) -> _WebhookEntry:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("needs exactly one of secret and secret_env")
        return self


class _SiemEntry(_Entry):
    name: Name
    host: Annotated[str, AfterValidator(_host)]
    port: Annotated[int, Field(strict=True, ge=1, le=65535)]
    format: Literal["syslog", "cef"]
    kinds: Kinds = frozenset(Anomaly)
    timeout_s: Timeout = 10.0


class _RetryEntry(_Entry):
    initial_s: Annotated[float, Field(ge=INITIAL_S_RANGE[0], le=INITIAL_S_RANGE[1])] = 5.0
    max_interval_s: Annotated[
        float, Field(ge=MAX_INTERVAL_S_RANGE[0], le=MAX_INTERVAL_S_RANGE[1])
    ] = 900.0
    give_up_after_s: Annotated[
        float, Field(ge=GIVE_UP_AFTER_S_RANGE[0], le=GIVE_UP_AFTER_S_RANGE[1])
    ] = 6 * 3600.0

    @model_validator(mode="after")
    def _valid(self) -> _RetryEntry:
        self.policy()
        return self

    def policy(self) -> RetryPolicy:
        return RetryPolicy(self.initial_s, self.max_interval_s, self.give_up_after_s)


class _AlertFile(_Entry):
    rules: _RulesEntry = _RulesEntry()
    webhooks: Annotated[tuple[_WebhookEntry, ...], BeforeValidator(_a_list)] = ()
    siem: Annotated[tuple[_SiemEntry, ...], BeforeValidator(_a_list)] = ()
    allowed_networks: Networks = ()
    retry: _RetryEntry = _RetryEntry()


# --- validation --------------------------------------------------------------------------------


def _message(error: Mapping[str, Any]) -> str:
    if error["type"] == "value_error" and "error" in error.get("ctx", {}):
        return str(error["ctx"]["error"])
    return str(error["msg"])


def _unique_names(
    located: Located, named: Iterable[tuple[DocPath, str]], what: str
) -> None:
    first: dict[str, DocPath] = {}
    for path, name in named:
        if name in first:
            earlier = path_text(first[name])
            located.problem((*path, "name"), f"{what} name {name!r} is already used by {earlier}")
        else:
            first[name] = path


def _from_environ(
    located: Located, path: DocPath, name: str | None, environ: Mapping[str, str]
) -> bytes | None:
    """The secret in environment variable ``name``, or None after recording why not."""
    text = None if name is None else environ.get(name)
    if name is None or text is None:
        located.problem(path, f"environment variable {name} is not set")
        return None
    try:
        return parse_secret(text.strip())
    except ValueError as exc:
        located.problem(path, f"environment variable {name}: {exc}")
        return None


def _endpoints(
    document: _AlertFile, located: Located, environ: Mapping[str, str]
) -> list[WebhookEndpoint]:
    endpoints = []
    for index, entry in enumerate(document.webhooks):
        secret = entry.secret or _from_environ(
            located, ("webhooks", index, "secret_env"), entry.secret_env, environ
        )
        if secret is None:
            continue
        endpoints.append(
            WebhookEndpoint(
                name=entry.name,
                url=str(entry.url),
                secret=secret,
                kinds=entry.kinds,
                timeout_s=entry.timeout_s,
            )
        )
    return endpoints


def _config(document: _AlertFile, located: Located, environ: Mapping[str, str]) -> AlertConfig:
    silences = document.rules.silences
    _unique_names(
        located,
        ((("rules", "silences", index), entry.name) for index, entry in enumerate(silences)),
        "silence",
    )
    outputs: list[tuple[DocPath, str]] = [
        (("webhooks", index), entry.name) for index, entry in enumerate(document.webhooks)
    ]
    outputs += [(("siem", index), entry.name) for index, entry in enumerate(document.siem)]
    _unique_names(located, outputs, "output")
    webhooks = _endpoints(document, located, environ)
    if located.problems:
        raise located.error()
    return AlertConfig(
        rules=AlertRules(
            kinds=document.rules.kinds,
            silences=tuple(entry.silence() for entry in silences),
        ),
        webhooks=tuple(webhooks),
        siem=tuple(
            SiemOutput(
                name=entry.name,
                host=entry.host,
                port=entry.port,
                format=entry.format,
                kinds=entry.kinds,
                timeout_s=entry.timeout_s,
            )
            for entry in document.siem
        ),
        allowed_networks=document.allowed_networks,
        retry=document.retry.policy(),
    )


def parse_alert_config(
    text: str, source: str, environ: Mapping[str, str] | None = None
) -> AlertConfig:
    """The configuration written in ``text`` (``source`` names it in errors); secrets named
    by ``secret_env`` are read from ``environ`` (default: the process environment)."""
    value, located = document_of(text, source)
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise AlertConfigError(f"{source}:1: the top level must be a mapping of settings")
    try:
        document = _AlertFile.model_validate(value)
    except ValidationError as exc:
        for error in exc.errors(include_input=False, include_url=False):
            located.problem(tuple(error["loc"]), _message(error))
        raise located.error() from None
    return _config(document, located, os.environ if environ is None else environ)


def load_alert_config(path: Path, environ: Mapping[str, str] | None = None) -> AlertConfig:
    """The configuration in the file at ``path`` (UTF-8, at most 1 MiB)."""
    source = str(path)
    try:
        with path.open("rb") as stream:
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise AlertConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise AlertConfigError(f"{source}: larger than {MAX_FILE_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise AlertConfigError(f"{source}:{line}: not UTF-8 text") from None
    return parse_alert_config(text, source, environ)
