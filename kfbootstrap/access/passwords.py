"""The Kubeflow (Dex) user's password: never the public default unless asked for.

Dex reads the bcrypt hash of its static user from `DEX_USER_PASSWORD` in Secret
`auth/dex-passwords` (kubeflow/manifests' documented way to change the password).
Only the hash reaches Dex; the password itself is kept in Secret
`auth/kfbootstrap-kubeflow-login` (key `password`), in the cluster it unlocks, so
`creds kubeflow` can show it, `smoke` can log in with it and a re-run of `up`
keeps it. Where it comes from, in order: the environment variable named by
`kubeflow.password`; the one kept in the cluster; a new random one. With
`kubeflow.keep_default_password: true` nothing is changed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

from kfbootstrap.config import Config
from kfbootstrap.errors import ConfigError, KfbError, UsageError

if TYPE_CHECKING:
    from kfbootstrap.kube.api import Kube

DEX_NAMESPACE = "auth"
DEX_SECRET = "dex-passwords"
DEX_HASH_KEY = "DEX_USER_PASSWORD"
LOGIN_SECRET = "kfbootstrap-kubeflow-login"
LOGIN_KEY = "password"
MIN_LENGTH = 8
MAX_BYTES = 72  # bcrypt reads no further (and the bcrypt module refuses more): a longer one cannot be hashed
BCRYPT_ROUNDS = 12  # what upstream's instructions use


@dataclass(frozen=True)
class Chosen:
    password: str
    source: str  # for the step's line: "random", "from $VAR", "kept"


def hash_password(password: str, rounds: int = BCRYPT_ROUNDS) -> str:
    import bcrypt

    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt(rounds)).decode("ascii")


def matches(password: str, password_hash: str | None) -> bool:
    import bcrypt

    if not password_hash:
        return False
    try:
        return bcrypt.checkpw(password.encode("utf-8"), password_hash.strip().encode("ascii"))
    except ValueError:  # not a bcrypt hash
        return False


def random_password() -> str:
    """The same kind of password kfbootstrap generates for Grafana: letters and digits, easy to paste."""
    from kfbootstrap.kube.generated import new_password

    return new_password()


def check_strength(password: str, where: str) -> str:
    """The password, if Dex can use it: 8 characters at least, 72 bytes (bcrypt's limit) at most, not
    only whitespace. Checked before anything changes; the password itself is never in the message."""
    size = len(password.encode("utf-8", "surrogatepass"))
    if not password.strip():
        raise UsageError(
            f"the password from {where} is only whitespace",
            hint=f"choose one of {MIN_LENGTH} to {MAX_BYTES} bytes with letters, digits or symbols",
        )
    if len(password) < MIN_LENGTH:
        raise UsageError(
            f"the password from {where} is shorter than {MIN_LENGTH} characters",
            hint=f"choose one of at least {MIN_LENGTH} characters",
        )
    if size > MAX_BYTES:
        raise UsageError(
            f"the password from {where} is longer than {MAX_BYTES} bytes ({size})",
            hint=f"Dex checks it with bcrypt, which reads at most {MAX_BYTES} bytes (in UTF-8; a letter "
            "outside ASCII takes 2 to 4): choose a shorter one",
        )
    return password


def password_from(
    var: str, named_by: str, hint: str, error: type[KfbError] = ConfigError, env: Mapping[str, str] | None = None
) -> str:
    """The password in environment variable `var`, which `named_by` (a config key or flag) names.

    A named but unset variable is `error` (with `hint`), never a silent fallback to another password."""
    value = (os.environ if env is None else env).get(var)
    if not value:
        raise error(f"{named_by} names the environment variable {var}, which is not set", hint=hint)
    return check_strength(value, f"${var}")


def from_environment(config: Config, env: Mapping[str, str] | None = None) -> str | None:
    """The password named by kubeflow.password, or None when no variable is named (checked before `up`
    changes anything)."""
    var = config.kubeflow.password
    if not var:
        return None
    hint = f"export {var}=..., or remove kubeflow.password to get a random password"
    return password_from(var, "kubeflow.password", hint, env=env)


def stored_password(kube: "Kube") -> str | None:
    """The password kfbootstrap keeps in the cluster, or None."""
    from kfbootstrap.kube.secrets import SecretNotFound, read_secret

    try:
        return read_secret(kube, DEX_NAMESPACE, LOGIN_SECRET).get(LOGIN_KEY) or None
    except SecretNotFound:
        return None


def current_hash(kube: "Kube") -> str | None:
    from kfbootstrap.kube.secrets import SecretNotFound, read_secret

    try:
        return read_secret(kube, DEX_NAMESPACE, DEX_SECRET).get(DEX_HASH_KEY) or None
    except SecretNotFound:
        return None


def choose(config: Config, kube: "Kube", env: Mapping[str, str] | None = None) -> Chosen:
    """The password `up` makes Dex use: the named variable's, the kept one, or a new random one."""
    from_env = from_environment(config, env)
    if from_env is not None:
        return Chosen(from_env, f"from ${config.kubeflow.password}")
    kept = stored_password(kube)
    if kept is not None:
        return Chosen(kept, "kept from the last run")
    return Chosen(random_password(), "random")


def set_password(kube: "Kube", password: str) -> str:
    """Keep the password and give Dex its hash (creating namespace auth first when Dex is not there yet)."""
    from kfbootstrap.kube.generated import ensure_namespace
    from kfbootstrap.kube.objects import COMPONENT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE
    from kfbootstrap.kube.secrets import write_secret

    labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, COMPONENT_LABEL: "kubeflow"}
    ensure_namespace(kube, DEX_NAMESPACE, "kubeflow")
    password_hash = hash_password(password)
    # The kept password first: if we are stopped in between, the next run still knows what it set.
    write_secret(kube, DEX_NAMESPACE, LOGIN_SECRET, {LOGIN_KEY: password}, labels)
    write_secret(kube, DEX_NAMESPACE, DEX_SECRET, {DEX_HASH_KEY: password_hash}, labels)
    return password_hash


def with_current_hash(objects: list[dict[str, Any]], password_hash: str) -> list[dict[str, Any]]:
    """The render with its dex-passwords Secret carrying our hash, so applying it never restores the default."""
    result = []
    for obj in objects:
        meta = obj.get("metadata") or {}
        if (
            obj.get("kind") == "Secret"
            and meta.get("name") == DEX_SECRET
            and meta.get("namespace", DEX_NAMESPACE) == DEX_NAMESPACE
        ):
            data = {k: v for k, v in (obj.get("data") or {}).items() if k != DEX_HASH_KEY}
            obj = {**obj, "stringData": {**(obj.get("stringData") or {}), DEX_HASH_KEY: password_hash}}
            if data or "data" in obj:
                obj["data"] = data
        result.append(obj)
    return result


def require_dex(kube: "Kube") -> None:
    """Before changing anything: without Dex's Deployment there is nothing the password would unlock."""
    from kfbootstrap.kube.api import DEPLOYMENTS

    if kube.get(DEPLOYMENTS, "dex", DEX_NAMESPACE) is None:
        raise KfbError(
            f"deployment dex not found in namespace {DEX_NAMESPACE}",
            hint="is Kubeflow installed? check `kfbootstrap status`; `kfbootstrap up` sets a password itself",
        )


def restart_dex(kube: "Kube", timeout: float) -> None:
    """Restart Dex so it reads the new hash, and wait (up to `timeout` seconds) until the new pods serve."""
    from kfbootstrap.kube.rollout import restart_deployment, wait_rolled_out

    restart_deployment(kube, DEX_NAMESPACE, "dex")
    wait_rolled_out(kube, DEX_NAMESPACE, "dex", timeout)
