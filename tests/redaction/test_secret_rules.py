"""Each modern token shape and structured credential is found, with the right type and span."""
from __future__ import annotations

import json

import pytest

from redaction import Scanner


def secrets_in(scanner: Scanner, text: str) -> list[tuple[str, str]]:
    return [(f.type, text[f.start:f.end]) for f in scanner.scan(text) if f.kind == "secret"]


@pytest.mark.parametrize(
    "make, type_",
    [
        (lambda t: "ghp_" + t(36), "GITHUB_TOKEN"),
        (lambda t: "gho_" + t(36), "GITHUB_TOKEN"),
        (lambda t: "ghu_" + t(36), "GITHUB_TOKEN"),
        (lambda t: "ghs_" + t(36), "GITHUB_TOKEN"),
        (lambda t: "ghr_" + t(36), "GITHUB_TOKEN"),
        (lambda t: "github_pat_" + t(22) + "_" + t(59), "GITHUB_FINE_GRAINED_PAT"),
        (lambda t: "sk-proj-" + t(48) + "_" + t(20), "OPENAI_API_KEY"),
        (lambda t: "sk-svcacct-" + t(60), "OPENAI_API_KEY"),
        (lambda t: "sk-admin-" + t(60), "OPENAI_API_KEY"),
        (lambda t: "sk-ant-api03-" + t(93) + "AA", "ANTHROPIC_API_KEY"),
        (lambda t: "sk-ant-admin01-" + t(93) + "AA", "ANTHROPIC_API_KEY"),
        (lambda t: "AIza" + t(35), "GOOGLE_API_KEY"),
        (lambda t: "sk_live_" + t(24), "STRIPE_KEY"),
        (lambda t: "rk_live_" + t(24), "STRIPE_KEY"),
        (lambda t: "xoxb-" + t(11, "0123456789") + "-" + t(13, "0123456789") + "-" + t(24), "SLACK_TOKEN"),
        (lambda t: "xoxp-" + t(11, "0123456789") + "-" + t(12, "0123456789") + "-" + t(32), "SLACK_TOKEN"),
        (lambda t: "AKIA" + t(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), "AWS_ACCESS_KEY"),
        (lambda t: "glpat-" + t(20), "GITLAB_TOKEN"),
        (lambda t: "npm_" + t(36), "NPM_TOKEN"),
    ],
)
def test_vendor_token_is_found_with_its_type(scanner: Scanner, tok, make, type_) -> None:
    value = make(tok)
    text = f"    client = make_client(\"{value}\")\n"
    assert secrets_in(scanner, text) == [(type_, value)]


def test_vendor_token_is_found_without_any_keyword(scanner: Scanner, tok) -> None:
    value = "ghp_" + tok(36)
    assert secrets_in(scanner, f"see {value} here") == [("GITHUB_TOKEN", value)]


def test_documentation_fillers_with_vendor_prefix_are_not_secrets(scanner: Scanner) -> None:
    text = "export GITHUB_TOKEN=ghp_" + "x" * 36 + "\nstripe: sk_live_" + "*" * 24 + "\n"
    assert secrets_in(scanner, text) == []


def test_slack_webhook_url_is_found(scanner: Scanner, tok) -> None:
    url = f"https://hooks.slack.com/services/T{tok(8)}/B{tok(10)}/{tok(24)}"
    assert secrets_in(scanner, f'WEBHOOK = "{url}"') == [("SLACK_WEBHOOK", url)]


def test_jwt_is_found(scanner: Scanner, tok) -> None:
    jwt = "eyJhbGciOiJIUzI1NiJ9.eyJ" + tok(40) + "." + tok(43)
    assert secrets_in(scanner, f"Authorization = {jwt}") == [("JWT", jwt)]


def test_pem_private_key_over_many_lines_is_one_finding(scanner: Scanner, tok) -> None:
    body = "\n".join(tok(64, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") for _ in range(12))
    pem = f"-----BEGIN RSA PRIVATE KEY-----\n{body}\n-----END RSA PRIVATE KEY-----"
    text = f"config:\n{pem}\nafter = 1\n"
    found = secrets_in(scanner, text)
    assert found == [("PRIVATE_KEY", pem)]


@pytest.mark.parametrize(
    "template",
    [
        "DATABASE_URL=postgres://app:{pw}@db.internal:5432/app",
        "MONGO = 'mongodb+srv://admin:{pw}@cluster0.example.net/test'",
        "redis://default:{pw}@cache:6379/0",
        "amqp://guest:{pw}@rabbit:5672/",
        "jdbc:mysql://db:3306/app?user=app&password={pw}",
    ],
)
def test_connection_string_password_is_found(scanner: Scanner, tok, template: str) -> None:
    pw = tok(18)
    text = template.format(pw=pw)
    found = scanner.scan(text)
    assert any(f.kind == "secret" and text[f.start:f.end] == pw for f in found), found


def test_connection_string_without_password_is_not_a_secret(scanner: Scanner) -> None:
    assert secrets_in(scanner, 'url = f"postgres://{user}:{password}@{host}/db"') == []
    assert secrets_in(scanner, "DATABASE_URL=postgres://localhost:5432/app") == []


def test_service_account_json_private_key_and_id_are_found(scanner: Scanner, tok) -> None:
    key_lines = "\\n".join(tok(64) for _ in range(8))
    doc = {
        "type": "service_account",
        "project_id": "demo-project",
        "private_key_id": tok(40, "0123456789abcdef"),
        "private_key": f"-----BEGIN PRIVATE KEY-----\\n{key_lines}\\n-----END PRIVATE KEY-----\\n",
        "client_email": "svc@demo-project.iam.gserviceaccount.com",
    }
    text = json.dumps(doc, indent=2).replace("\\\\n", "\\n")
    types = {t for t, _ in secrets_in(scanner, text)}
    assert {"PRIVATE_KEY", "GCP_SERVICE_ACCOUNT"} <= types


def test_aws_secret_key_near_aws_keyword_is_found(scanner: Scanner, tok) -> None:
    secret = tok(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+")
    text = f"aws_secret_access_key = {secret}"
    assert (secret in [v for _, v in secrets_in(scanner, text)])


@pytest.mark.parametrize("keyword", ["password", "api_key", "client_secret", "authToken", "DB_PASSWORD"])
def test_keyword_assignment_with_random_value_is_found(scanner: Scanner, tok, keyword: str) -> None:
    value = tok(20)
    text = f'{keyword} = "{value}"'
    assert value in [v for _, v in secrets_in(scanner, text)]


@pytest.mark.parametrize(
    "text",
    [
        'password = "${DB_PASSWORD}"',
        "password = os.environ['DB_PASSWORD']",
        'token = "<your-token-here>"',
        "api_key = get_api_key_from_vault(settings)",
        "def rotate_secret_key(self, token_manager): ...",
        "from cryptography.hazmat.primitives.serialization import load_pem_private_key",
    ],
)
def test_keyword_lines_without_a_credential_are_clean(scanner: Scanner, text: str) -> None:
    assert secrets_in(scanner, text) == []


@pytest.mark.parametrize(
    "line",
    [
        "    return Response(status_code=status.HTTP_401_UNAUTHORIZED)",
        '    "HTTP_511_NETWORK_AUTHENTICATION_REQUIRED",',
        "        await websocket.close(code=status.WS_1000_NORMAL_CLOSURE)",
        "JWT_SECRET = 'a-string-secret-at-least-256-bits-long'",
    ],
)
def test_constant_names_with_short_numbers_are_names_not_secrets(scanner: Scanner, line: str) -> None:
    """Status-code constants are everywhere in web code; masking them would garble the prompt."""
    assert secrets_in(scanner, line) == []


def test_a_random_value_between_short_numbers_is_still_a_secret(scanner: Scanner, tok) -> None:
    value = f"1234_{tok(28)}_99"
    assert [f.type for f in scanner.scan(f'api_key = "{value}"')] == ["GENERIC_SECRET"]


@pytest.mark.parametrize(
    "line",
    [
        '      "integrity": "sha512-kFSyxiEDwv1WLl2fgsq6pPBbw5aWKrsY2noi1Id0TK0UParSF62oFkq4WqDWf0aqNcuOapkalM0sHqYOpQ1a0w==",',
        "golang.org/x/net v0.17.0 h1:pVaXccu2ozPjCXewfr1S7xPdKT1Z2hdUpDxQx6vFkKo=",
        '    {file = "a-1.0-py3-none-any.whl", hash = "sha256:0c8d036eb937dbb568c6242fa598d551d88fb4399c0344d95c001980ec1c7d36"},',
        "commit 9c502beb1c2fd88612c1db1cc9ea7242aeefb4d5",
        "request_id = 3f2b8c1e-9d4a-4e7b-8f1a-2c3d4e5f6a7b",
    ],
)
def test_lock_file_hashes_and_ids_are_not_secrets(scanner: Scanner, line: str) -> None:
    assert secrets_in(scanner, line) == []


def test_findings_are_sorted_and_non_overlapping(scanner: Scanner, tok) -> None:
    text = "\n".join(f'token_{i} = "ghp_{tok(36)}"  # mail dev{i}@example.com' for i in range(20))
    found = scanner.scan(text)
    assert len(found) == 40
    assert all(a.end <= b.start for a, b in zip(found, found[1:]))


def test_kubernetes_secret_data_values_are_found(scanner: Scanner, tok) -> None:
    pw, user = tok(24, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"), "YWRtaW4="
    manifest = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n"
        f"data:\n  # base64 values\n  password: {pw}\n  username: {user}\nimmutable: true\n"
    )
    values = [v for t, v in secrets_in(scanner, manifest) if t == "KUBERNETES_SECRET"]
    assert values == [pw, user]


def test_configmap_data_is_not_a_secret(scanner: Scanner) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\ndata:\n  mode: YWRtaW4=\n  level: debug\n"
    assert [t for t, _ in secrets_in(scanner, manifest)] == []


def test_kind_secret_precheck_agrees_with_the_regex_on_any_spelling() -> None:
    """The "nd:" pre-check must accept every line the caseless regex does (KELVIN SIGN, dotless i, ...)."""
    import random

    from redaction.secret_rules import _K8S_KIND_SECRET, _has_kind_secret_line

    rng = random.Random(7)
    parts = ["kind: Secret", "KIND: secret", " \tkind:'secret'", "\u212aind: Secret", "k\u0131nd: secret",
             "k\u0130nd: SECRET", "kind: secrets", "  Kind :secret", "\n", "x", " ", "kind:", "secret", "nd:",
             "\r", 'kind: "Secret" \t', "\u017fecret"]
    for _ in range(20_000):
        text = "".join(rng.choice(parts) for _ in range(rng.randint(0, 8)))
        assert _has_kind_secret_line(text) == (_K8S_KIND_SECRET.search(text) is not None), repr(text)
