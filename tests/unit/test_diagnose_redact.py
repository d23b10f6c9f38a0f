"""Redaction rules of the diagnose bundle, on text a cluster could really produce."""

from __future__ import annotations

import base64

import pytest

from kfbootstrap.diagnose.redact import MASK, Redactor, looks_secret, redact_pod_env


def secret(data: dict[str, str], type_: str = "Opaque") -> dict:
    return {"type": type_, "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}


def test_secret_values_and_their_base64_are_masked_everywhere():
    redactor = Redactor()
    redactor.add_secret(secret({"secretkey": "s3cr3t-Value-42", "accesskey": "minio"}))
    text = b"connecting with minio / s3cr3t-Value-42\ndata: " + base64.b64encode(b"s3cr3t-Value-42") + b"\n"
    scrubbed = redactor.scrub(text)
    assert b"s3cr3t-Value-42" not in scrubbed and b"minio" not in scrubbed
    assert base64.b64encode(b"s3cr3t-Value-42") not in scrubbed
    assert scrubbed.count(MASK.encode()) == 3


def test_longest_value_wins_so_no_tail_of_a_secret_is_left():
    redactor = Redactor()
    redactor.add("abcd")
    redactor.add("abcdefgh-long-secret")
    assert redactor.scrub(b"x abcdefgh-long-secret y") == f"x {MASK} y".encode()


def test_lines_of_a_multiline_key_are_masked_on_their_own():
    pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\nBKcwggSjAgEAAoIBAQC7\n-----END PRIVATE KEY-----\n"
    redactor = Redactor()
    redactor.add_secret(secret({"tls.key": pem}, "kubernetes.io/tls"))
    logged = b"error parsing key line MIIEvQIBADANBgkqhkiG9w0BAQEFAASC in input"
    assert b"MIIEvQIBADANBgkqhkiG9w0BAQEFAASC" not in redactor.scrub(logged)


def test_public_service_account_keys_are_left_alone():
    redactor = Redactor()
    redactor.add_secret(
        secret(
            {"ca.crt": "PUBLIC-CA-CERT-DATA", "namespace": "kubeflow", "token": "eyJhbGciOi.token-value"},
            "kubernetes.io/service-account-token",
        )
    )
    text = b"kubeflow PUBLIC-CA-CERT-DATA eyJhbGciOi.token-value"
    assert redactor.scrub(text) == f"kubeflow PUBLIC-CA-CERT-DATA {MASK}".encode()


def test_short_values_are_masked_where_they_stand_alone_never_inside_words():
    redactor = Redactor()
    redactor.add_secret(secret({"pin": "x9", "code": "abc"}))
    assert (
        redactor.scrub(b"pin=x9; code abc in abcdef and x99 and [x9]")
        == f"pin={MASK}; code {MASK} in abcdef and x99 and [{MASK}]".encode()
    )
    assert redactor.scrub_data({"env": [{"value": "abc"}], "note": "abcabc"}) == {
        "env": [{"value": MASK}],
        "note": "abcabc",
    }


# What the bundle's writers make of a value: the file must never show it in any of these forms.
TRICKY = [
    'pa"ss\\word-1',
    "it's-a-secret",
    "two  spaces\tand tab",
    "ünïcødé-pässwörd",
    "line one\nline two!!",
    "a" * 30 + " " + "b" * 60,
]


@pytest.mark.parametrize("value", TRICKY)
def test_values_are_masked_as_the_bundle_files_show_them(value):
    import json

    from kfbootstrap.diagnose.bundle import _dump_yaml
    from kfbootstrap.diagnose.tables import events_table

    redactor = Redactor()
    redactor.add_secret(secret({"password": value}))
    event = {"metadata": {"name": "e", "namespace": "ns"}, "message": f"login failed with {value}", "reason": "X"}
    # The file-level scrub alone, on each serialisation (the last word, whatever wrote the file):
    for shown in (
        _dump_yaml({"message": value, "env": [{"value": value}]}),
        json.dumps({"v": value}),
        json.dumps({"v": value}, ensure_ascii=False),
        events_table([event]),
        _dump_yaml({"quoted": "'" + value + "'"}),
    ):
        scrubbed = redactor.scrub_text(shown)
        assert value not in scrubbed and " ".join(value.split()) not in scrubbed, shown
        assert MASK in scrubbed, shown
    # ...and the data-level scrub, before tables collapse or cut anything:
    assert value not in events_table(redactor.scrub_data([event]))


def test_user_names_stay_readable_but_passwords_do_not():
    redactor = Redactor()
    redactor.add_secret(secret({"admin-user": "admin", "admin-password": "pw-0123456789"}))
    redactor.add_secret(secret({"username": "pipelines", "password": "other-secret-pw"}))
    assert (
        redactor.scrub(b"cluster-admin pipelines pw-0123456789 other-secret-pw")
        == f"cluster-admin pipelines {MASK} {MASK}".encode()
    )


@pytest.mark.parametrize(
    "line,kept",
    [
        (b"DB_PASSWORD=hunter2hunter2", b"DB_PASSWORD=" + MASK.encode()),
        (b'"AWS_SECRET_ACCESS_KEY": "abc/def+ghi"', b'"AWS_SECRET_ACCESS_KEY": "' + MASK.encode() + b'"'),
        (b"GITHUB_TOKEN: ghp_abcdef123456", b"GITHUB_TOKEN: " + MASK.encode()),
        (b"key: app.kubernetes.io/name", b"key: app.kubernetes.io/name"),  # YAML selector key, not a secret
        (b"LOG_LEVEL=debug", b"LOG_LEVEL=debug"),
        (b"KEYCLOAK_URL=http://keycloak:8080", b"KEYCLOAK_URL=http://keycloak:8080"),
    ],
)
def test_env_like_pairs_in_free_text(line, kept):
    assert Redactor().scrub(line) == kept


@pytest.mark.parametrize(
    "name,secret_like",
    [
        ("MYSQL_ROOT_PASSWORD", True),
        ("OIDC_CLIENT_SECRET", True),
        ("AWS_ACCESS_KEY_ID", True),
        ("API_KEY", True),
        ("KEY", True),
        ("GF_SECURITY_ADMIN_PASSWORD", True),
        ("SA_TOKEN", True),
        ("LOG_LEVEL", False),
        ("KEYCLOAK_URL", False),
        ("POD_NAMESPACE", False),
        ("MONKEY", False),
    ],
)
def test_which_env_names_look_secret(name, secret_like):
    assert looks_secret(name) is secret_like


def test_pod_env_values_are_masked_and_learned():
    pod = {
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "env": [
                        {"name": "DB_PASSWORD", "value": "pod-literal-password"},
                        {"name": "LOG_LEVEL", "value": "info"},
                        {"name": "API_TOKEN", "valueFrom": {"secretKeyRef": {"name": "x", "key": "y"}}},
                    ],
                }
            ],
            "initContainers": [{"name": "init", "env": [{"name": "INIT_SECRET", "value": "init-literal-secret"}]}],
        }
    }
    redactor = Redactor()
    redact_pod_env(pod, redactor)
    env = pod["spec"]["containers"][0]["env"]
    assert env[0]["value"] == MASK and env[1]["value"] == "info" and "value" not in env[2]
    assert pod["spec"]["initContainers"][0]["env"][0]["value"] == MASK
    # The same values are masked when a log prints them.
    assert redactor.scrub(b"using pod-literal-password and init-literal-secret") == f"using {MASK} and {MASK}".encode()
