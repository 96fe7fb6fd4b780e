"""Rules for secrets with a recognisable shape: vendor prefixes and structured credentials.

Each rule has literal anchors (fed to the one Hyperscan pass as candidates) and a Python
regex that confirms the candidate and gives the exact span (group "s" when the secret is a
part of the match). Generic "keyword near a random-looking token" detection lives in
`generic_secrets`; these rules catch what that would miss or type it precisely.
Rules cover detect-secrets' plugins (AWS, Artifactory, Azure storage, basic auth, Cloudant,
Discord, GitHub, GitLab, IBM, Mailchimp, npm, OpenAI, private keys, PyPI, SendGrid, Slack,
SoftLayer, Square, Stripe, Telegram, Twilio, JWT) plus modern tokens it lacks.
"""
from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SecretRule:
    """One shaped secret: anchors for the fast pass, a confirming regex for the span."""

    type: str
    anchors: tuple[str, ...]  # literal strings; any of them in a line makes it a candidate
    regex: re.Pattern[str]
    caseless: bool = False  # anchors matched case-insensitively
    multiline: bool = False  # regex may span lines: run on the whole text, not per line
    keyword_group: str | None = None  # this group must contain a secret keyword (checked after)
    # Literals every match holds besides the anchor: a line without one of them is not searched
    # (the regex alone would be tried at every position of it).
    needs: tuple[str, ...] = ()


_B = r"(?<![A-Za-z0-9_\-.])"  # token start boundary
_E = r"(?![A-Za-z0-9_\-])"  # token end boundary


def _r(type_: str, anchors: tuple[str, ...] | str, pattern: str, *, caseless: bool = False,
       multiline: bool = False, keyword_group: str | None = None, needs: tuple[str, ...] = ()) -> SecretRule:
    if isinstance(anchors, str):
        anchors = (anchors,)
    return SecretRule(type_, anchors, re.compile(pattern), caseless, multiline, keyword_group, needs)


# (type, anchors, token body) for "prefix + charset{n,}" tokens: the bulk of modern vendor keys.
_PREFIXED: list[tuple[str, tuple[str, ...], str]] = [
    ("GITHUB_TOKEN", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), r"gh[pousr]_[A-Za-z0-9]{36,255}"),
    ("GITHUB_FINE_GRAINED_PAT", ("github_pat_",), r"github_pat_[A-Za-z0-9_]{22,255}"),
    ("GITLAB_TOKEN", ("glpat-", "glptt-", "gldt-", "glrt-", "glsoat-", "glcbt-", "glimt-", "glagent-",
                      "glffct-", "gloas-", "GR1348941", "glft-", "glsa_"),
     r"(?:gl(?:pat|ptt|dt|rt|soat|cbt|imt|agent|ffct|oas|ft)-|GR1348941|glsa_)[A-Za-z0-9_\-.]{16,}"),
    ("OPENAI_API_KEY", ("sk-proj-", "sk-svcacct-", "sk-admin-", "T3BlbkFJ"),
     r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{20,}|sk-[A-Za-z0-9_\-]{10,}T3BlbkFJ[A-Za-z0-9_\-]{10,}"),
    ("ANTHROPIC_API_KEY", ("sk-ant-",), r"sk-ant-(?:api\d\d|admin\d\d)-[A-Za-z0-9_\-]{20,}"),
    ("GOOGLE_API_KEY", ("AIza",), r"AIza[0-9A-Za-z_\-]{35}"),
    ("GOOGLE_OAUTH_SECRET", ("GOCSPX-",), r"GOCSPX-[A-Za-z0-9_\-]{20,}"),
    ("GOOGLE_OAUTH_TOKEN", ("ya29.",), r"ya29\.[A-Za-z0-9_\-]{20,}"),
    ("STRIPE_KEY", ("sk_live_", "rk_live_", "sk_test_", "rk_test_", "pk_live_", "whsec_"),
     r"(?:[sr]k_(?:live|test)|pk_live|whsec)_[A-Za-z0-9]{10,}"),
    ("SLACK_TOKEN", ("xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-", "xoxe-", "xoxe.", "xapp-"),
     r"(?:xox[abprse]|xapp)-\d+-[A-Za-z0-9\-]{8,}|xoxe\.xox[bp]-\d-[A-Za-z0-9]{60,}"),
    ("AWS_ACCESS_KEY", ("AKIA", "ASIA", "ABIA", "ACCA", "A3T"), r"(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"),
    ("DIGITALOCEAN_TOKEN", ("dop_v1_", "doo_v1_", "dor_v1_"), r"do[por]_v1_[a-f0-9]{64}"),
    ("SENTRY_TOKEN", ("sntrys_", "sntryu_"), r"sntry[su]_[A-Za-z0-9+/=_]{32,}"),
    ("HUGGINGFACE_TOKEN", ("hf_", "api_org_"), r"(?:hf_|api_org_)[A-Za-z]{34,}"),
    ("NPM_TOKEN", ("npm_",), r"npm_[A-Za-z0-9]{36}"),
    ("PYPI_TOKEN", ("pypi-AgE", "pypi-AgY"), r"pypi-Ag[EY][A-Za-z0-9_\-]{50,}"),
    ("SHOPIFY_TOKEN", ("shpat_", "shpss_", "shpca_", "shppa_"), r"shp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"),
    ("SENDGRID_KEY", ("SG.",), r"SG\.[A-Za-z0-9_\-]{20,24}\.[A-Za-z0-9_\-]{39,50}"),
    ("SENDINBLUE_KEY", ("xkeysib-", "xsmtpsib-"), r"x(?:keysib|smtpsib)-[a-f0-9]{64}-[A-Za-z0-9]{16}"),
    ("LINEAR_KEY", ("lin_api_",), r"lin_api_[A-Za-z0-9]{40}"),
    ("AGE_SECRET_KEY", ("AGE-SECRET-KEY-1",), r"AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    ("DATABRICKS_TOKEN", ("dapi",), r"dapi[a-f0-9]{32}(?:-\d)?"),
    ("DOPPLER_TOKEN", ("dp.pt.", "dp.st.", "dp.ct.", "dp.sa.", "dp.scim."),
     r"dp\.(?:pt|st|ct|sa|scim)\.[A-Za-z0-9_\-]{20,}"),
    ("PLANETSCALE_TOKEN", ("pscale_tkn_", "pscale_pw_", "pscale_oauth_"),
     r"pscale_(?:tkn|pw|oauth)_[A-Za-z0-9=\-_.]{32,64}"),
    ("POSTMAN_KEY", ("PMAK-",), r"PMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}"),
    ("ATLASSIAN_TOKEN", ("ATATT3", "ATCTT3", "ATOAT"), r"AT(?:ATT|CTT|OAT)[A-Za-z0-9_\-=]{20,}"),
    ("SQUARE_TOKEN", ("sq0atp-", "sq0csp-", "EAAA"), r"sq0(?:atp|csp)-[0-9A-Za-z\-_]{22,}|EAAA[A-Za-z0-9_\-+=]{60}"),
    ("HASHICORP_VAULT_TOKEN", ("hvs.", "hvb."), r"hv[sb]\.[A-Za-z0-9_\-]{24,}"),
    ("TERRAFORM_TOKEN", (".atlasv1.",), r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=\-]{60,70}"),
    ("CONTENTFUL_TOKEN", ("CFPAT-",), r"CFPAT-[A-Za-z0-9_\-]{43}"),
    ("FLUTTERWAVE_KEY", ("FLWSECK", "FLWPUBK"), r"FLW(?:SECK|PUBK)(?:_TEST)?-[A-Za-z0-9]{32}-X"),
    ("FLYIO_TOKEN", ("fo1_", "FlyV1 ", "fm1r_", "fm2_"), r"(?:fo1_[A-Za-z0-9_\-]{43}|FlyV1 fm\d[a-z]?_[A-Za-z0-9+/=_,\-]{30,}|fm[12][ar]?_[A-Za-z0-9+/]{100,}={0,3})"),
    ("DUFFEL_TOKEN", ("duffel_test_", "duffel_live_"), r"duffel_(?:test|live)_[A-Za-z0-9_\-=]{43}"),
    ("DYNATRACE_TOKEN", ("dt0c01.",), r"dt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}"),
    ("EASYPOST_KEY", ("EZAK", "EZTK"), r"EZ[AT]K[A-Za-z0-9]{54}"),
    ("FIGMA_TOKEN", ("figd_",), r"figd_[A-Za-z0-9_\-]{40}"),
    ("PULUMI_TOKEN", ("pul-",), r"pul-[a-f0-9]{40}"),
    ("RUBYGEMS_KEY", ("rubygems_",), r"rubygems_[a-f0-9]{48}"),
    ("SHIPPO_TOKEN", ("shippo_live_", "shippo_test_"), r"shippo_(?:live|test)_[a-fA-F0-9]{40}"),
    ("GRAFANA_TOKEN", ("glc_", "eyJrIjoi"), r"glc_[A-Za-z0-9+/]{32,400}={0,2}|eyJrIjoi[A-Za-z0-9]{70,400}={0,2}"),
    ("PREFECT_TOKEN", ("pnu_",), r"pnu_[A-Za-z0-9]{36}"),
    ("README_TOKEN", ("rdme_",), r"rdme_[a-z0-9]{70}"),
    ("SCALINGO_TOKEN", ("tk-us-",), r"tk-us-[A-Za-z0-9_\-]{48}"),
    ("ADOBE_SECRET", ("p8e-",), r"p8e-[A-Za-z0-9]{32}"),
    ("ALIBABA_KEY", ("LTAI",), r"LTAI[A-Za-z0-9]{20}"),
    ("CLOJARS_TOKEN", ("CLOJARS_",), r"CLOJARS_[a-z0-9]{60}"),
    ("CLOUDFLARE_ORIGIN_KEY", ("v1.0-",), r"v1\.0-[a-f0-9]{24}-[a-f0-9]{146}"),
    ("FRAMEIO_TOKEN", ("fio-u-",), r"fio-u-[A-Za-z0-9\-_=]{64}"),
    ("INTRA42_SECRET", ("s-s4t2",), r"s-s4t2(?:ud|af)-[a-f0-9]{64}"),
    ("MAILGUN_KEY", ("key-", "pubkey-"), r"(?:pub)?key-[a-f0-9]{32}"),
    ("NEWRELIC_KEY", ("NRAK-", "NRJS-", "NRII-"), r"NR(?:AK|JS|II)-[A-Za-z0-9\-]{27,32}"),
    ("OCTOPUS_KEY", ("API-",), r"API-[A-Z0-9]{26}"),
    ("OPENSHIFT_TOKEN", ("sha256~",), r"sha256~[A-Za-z0-9_\-]{43}"),
    ("PRIVATE_AI_KEY", ("pai-",), r"pai-[A-Za-z0-9_\-]{32,}"),
    ("SETTLEMINT_TOKEN", ("sm_pat_", "sm_aat_", "sm_sat_"), r"sm_(?:pat|aat|sat)_[a-zA-Z0-9]{16}"),
    ("SIDEKIQ_SECRET", ("cafebabe:", "gems.contribsys.com"), r"[a-f0-9]{8}:[a-f0-9]{8}"),
    ("TWILIO_KEY", ("SK", "AC"), r"(?:SK|AC)[0-9a-fA-F]{32}"),
    ("TELEGRAM_BOT_TOKEN", (":AA",), r"\d{5,16}:AA[A-Za-z0-9_\-]{32,33}"),
    ("DISCORD_TOKEN", ("M", "N", "O"), r"[MNO][A-Za-z\d_\-]{23,25}\.[A-Za-z\d_\-]{6}\.[A-Za-z\d_\-]{27,}"),
    ("ARTIFACTORY_TOKEN", ("AKC", "AP"), r"AKC[a-zA-Z0-9]{10,}|AP[0-9ABCDEF][a-zA-Z0-9]{8,}"),
    ("MAILCHIMP_KEY", ("-us",), r"[0-9a-z]{32}-us[0-9]{1,2}"),
    ("AZURE_AD_CLIENT_SECRET", ("Q~",), r"[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}"),
    ("HEROKU_KEY", ("HRKU-",), r"HRKU-AA[0-9A-Za-z_\-]{58}"),
    ("INFRACOST_KEY", ("ico-",), r"ico-[A-Za-z0-9]{32}"),
    ("MAXMIND_KEY", ("_mmk",), r"[A-Za-z0-9]{6}_[A-Za-z0-9]{29}_mmk"),
    ("OKTA_TOKEN", ("00",), r"00[A-Za-z0-9=_\-]{40}"),
    ("SUMOLOGIC_ID", ("su",), r"su[A-Za-z0-9]{12}"),
    ("BEAMER_KEY", ("b_",), r"b_[A-Za-z0-9=_\-]{44}"),
    ("HARNESS_TOKEN", ("pat.", "sat."), r"(?:pat|sat)\.[A-Za-z0-9_\-]{22}\.[a-z0-9]{24}\.[A-Za-z0-9]{20}"),
    ("AUTHRESS_KEY", ("sc_", "ext_", "scauth_", "authress_"),
     r"(?:sc|ext|scauth|authress)_[a-z0-9]{5,30}\.[a-z0-9]{4,6}\.acc[_-][a-z0-9\-]{10,32}\.[A-Za-z0-9+/_\-]{30,120}={0,2}"),
    ("GITTER_TOKEN", ("gitter",), r"[a-z0-9_\-]{40}"),
    ("KUCOIN_KEY", ("kucoin",), r"[a-f0-9]{24}"),
    ("ONEPASSWORD_KEY", ("A3-",), r"A3-[A-Z0-9]{6}-(?:[A-Z0-9]{11}|[A-Z0-9]{6}-[A-Z0-9]{5})-[A-Z0-9]{5}-[A-Z0-9]{5}-[A-Z0-9]{5}"),
    ("ONEPASSWORD_TOKEN", ("ops_eyJ",), r"ops_eyJ[A-Za-z0-9+/]{250,}={0,3}"),
]
# Shapes too short/common to be a candidate on their own (SK/AC + hex, "00" + 40 chars, ...):
# left out of the fast pass; such values are caught by the generic keyword rule instead.
_WEAK_PREFIX = {"SIDEKIQ_SECRET", "TWILIO_KEY", "DISCORD_TOKEN", "ARTIFACTORY_TOKEN", "OKTA_TOKEN",
                "SUMOLOGIC_ID", "BEAMER_KEY", "GITTER_TOKEN", "KUCOIN_KEY", "OCTOPUS_KEY"}

_PEM = (
    r"-----BEGIN[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[\s\S]{0,12000}?-----END[ A-Z0-9_-]{0,40}PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\n:,\-]{40,})"
)

STRUCTURED: list[SecretRule] = [
    # A whole PEM block (possibly with literal "\n" escapes, as in service-account JSON) is one finding.
    _r("PRIVATE_KEY", ("-----BEGIN",), _PEM, multiline=True),
    _r("PGP_PRIVATE_KEY", ("-----BEGIN PGP PRIVATE",),
       r"-----BEGIN PGP PRIVATE KEY BLOCK-----[\s\S]{0,20000}?-----END PGP PRIVATE KEY BLOCK-----", multiline=True),
    _r("PUTTY_PRIVATE_KEY", ("PuTTY-User-Key-File",), r"PuTTY-User-Key-File-\d[\s\S]{0,8000}?Private-MAC: [a-f0-9]{40,64}", multiline=True),
    _r("JWT", ("eyJ",), _B + r"ey[A-Za-z0-9_\-]{10,}\.ey[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]*" + _E),
    _r("JWT", ("ZXlK",), _B + r"ZXlK[A-Za-z0-9+/_\-]{30,}={0,2}"),  # base64 of a JWT
    _r("SLACK_WEBHOOK", ("hooks.slack.com",),
       r"https?://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/_\-]{20,}"),
    _r("DISCORD_WEBHOOK", ("discord.com/api/webhooks", "discordapp.com/api/webhooks"),
       r"https?://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]{20,}"),
    _r("MSTEAMS_WEBHOOK", (".webhook.office.com",), r"https://[a-z0-9]+\.webhook\.office\.com/webhookb2/[A-Za-z0-9@/\-]{40,}"),
    # user:password@ in any scheme URL: only the password is the secret.
    _r("CONNECTION_STRING", ("://",),
       r"[A-Za-z][A-Za-z0-9+.\-]{1,20}://[^\s:/@'\"`<>]{0,64}:(?P<s>[^\s@/'\"`<>]{3,256})@[A-Za-z0-9.\-_\[\]]+",
       needs=("@",)),  # most URLs in code and docs carry no credentials
    _r("CONNECTION_STRING", ("password=", "pwd=", "Password=", "PWD="),
       r"(?i)(?:jdbc:|server=|data source=|host=|;|&|\?|\s)(?:password|pwd)=(?P<s>[^\s;&'\"`<>]{3,128})", caseless=True),
    _r("GCP_SERVICE_ACCOUNT", ("private_key_id",),
       r"\"private_key_id\"\s*:\s*\"(?P<s>[a-f0-9]{40})\""),
    _r("AZURE_STORAGE_KEY", ("AccountKey=",), r"AccountKey=(?P<s>[A-Za-z0-9+/=]{80,100})"),
    _r("AZURE_SAS_TOKEN", ("sig=",), r"[?&]sig=(?P<s>[A-Za-z0-9%+/=]{40,})"),
    _r("BASIC_AUTH_HEADER", ("Basic ",), r"(?i)(?:authorization|auth)[\"':=\s]{1,6}Basic (?P<s>[A-Za-z0-9+/]{8,}={0,2})", caseless=True),
    # curl -u user:password / --user 'user:password'
    _r("CURL_USER_PASSWORD", ("-u ", "--user ", "--user="),
       r"(?:\s-u|--user)[\s=]+(?P<q>['\"]?)(?P<s>[^\s'\":]{0,64}:[^\s'\"]+?|[^\s'\"]+?:[^\s'\"]*?)(?P=q)(?=\s|$)"),
    # <fooToken>\n   value\n</fooToken>: the keyword is on the line above the value.
    # Structure first (cheap to reject on HTML); the tag's keyword is checked afterwards.
    _r("GENERIC_SECRET", ("</",),
       r"<(?P<tag>[\w.\-]{1,80})>[ \t]*\r?\n[ \t]*(?P<s>[^\s<]{8,200})[ \t]*\r?\n[ \t]*</(?P=tag)>",
       multiline=True, keyword_group="tag"),
    _r("BEARER_TOKEN", ("Bearer ",), r"(?i)Bearer (?P<s>[A-Za-z0-9_\-.~+/]{20,}={0,2})", caseless=True),
    _r("AWS_SECRET_KEY", ("aws", "AWS", "Aws"),
       r"(?i)aws.{0,40}?(?:secret|key|token|sk|private|credential).{0,40}?(?<![A-Za-z0-9/+])(?P<s>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])",
       caseless=True),
    _r("IBM_CLOUD_IAM_KEY", ("ibm", "IBM"),
       r"(?i)ibm.{0,40}?(?:api|iam|key|secret|pass|pwd|token|cred).{0,40}?(?<![A-Za-z0-9_\-])(?P<s>[A-Za-z0-9_\-]{44})(?![A-Za-z0-9_\-])", caseless=True),
    _r("SOFTLAYER_KEY", ("softlayer", "SoftLayer", "SOFTLAYER", "sl_", "SL_", "api.softlayer"),
       r"(?i)(?:softlayer|\bsl)_?.{0,40}?(?:api|key|pass|pwd|token|secret).{0,30}?(?<![a-z0-9])(?P<s>[a-z0-9]{64})(?![a-z0-9])", caseless=True),
    _r("CLOUDANT_KEY", ("cloudant", "Cloudant", "CLOUDANT", "cloudantnosqldb"),
       r"(?i)(?:cloudant|cl|cloudantnosqldb).{0,40}?(?:api|key|pass|pwd|secret).{0,30}?(?<![a-z0-9])(?P<s>[a-z0-9]{24,64})(?![a-z0-9])", caseless=True),
]


def build_rules() -> list[SecretRule]:
    """All shaped-secret rules, prefix rules first (their anchors are distinctive)."""
    rules: list[SecretRule] = []
    for type_, anchors, body in _PREFIXED:
        if type_ in _WEAK_PREFIX:
            continue
        rules.append(_r(type_, anchors, _B + "(?:" + body + ")" + _E))
    rules.extend(STRUCTURED)
    return rules



_K8S_KIND_SECRET = re.compile(r"(?im)^[ \t]*kind:[ \t]*[\"']?secret[\"']?[ \t]*$")
_K8S_DATA = re.compile(r"(?m)^(?P<ind>[ \t]*)(?:data|stringData):[ \t]*$")
_K8S_VALUE = re.compile(r"[ \t]+(?:[\w.\-]+:[ \t]*)?[\"']?(?P<s>[A-Za-z0-9+/]{4,}={0,2})[\"']?[ \t]*$")


def kubernetes_secret_values(text: str) -> list[tuple[int, int]]:
    """Spans of the values under `data:` in a Kubernetes Secret manifest (secrets by definition)."""
    if "data:" not in text:
        return []
    if not _has_kind_secret_line(text):
        return []
    spans: list[tuple[int, int]] = []
    doc_start = 0
    for doc_end in [m.start() for m in _YAML_DOC.finditer(text)] + [len(text)]:
        if _K8S_KIND_SECRET.search(text, doc_start, doc_end) is not None:
            spans.extend(_data_values(text, doc_start, doc_end))
        doc_start = doc_end
    return spans


_YAML_DOC = re.compile(r"(?m)^---[ \t]*$")
# Every spelling of "nd:" that caseless matching accepts: 'n' and 'd' have no case forms
# beyond ASCII (unlike 'k' and 'i': KELVIN SIGN, dotless i), so this holds for any text.
_ND_COLON = ("nd:", "nD:", "Nd:", "ND:")


def _has_kind_secret_line(text: str) -> bool:
    """Whether _K8S_KIND_SECRET matches somewhere in `text`.

    The line-anchored caseless regex, searched, is tried at every position (~0.4 ms per 64 KB);
    a match holds "kind:", so only the lines holding an "nd:" are tried, from their start.
    """
    for nd in _ND_COLON:
        at = text.find(nd)
        while at >= 0:
            if _K8S_KIND_SECRET.match(text, text.rfind("\n", 0, at) + 1) is not None:
                return True
            at = text.find(nd, at + 1)
    return False


def _data_values(text: str, start: int, stop: int) -> list[tuple[int, int]]:
    spans = []
    for block in _K8S_DATA.finditer(text, start, stop):
        indent = len(block.group("ind").expandtabs(4))
        pos = block.end() + 1
        while pos < stop:
            nl = text.find("\n", pos, stop)
            end = stop if nl < 0 else nl
            line = text[pos:end]
            stripped = line.strip()
            if stripped and not stripped.startswith("#"):
                if len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip()) <= indent:
                    break  # dedent: the data block is over
                m = _K8S_VALUE.match(line)
                if m is not None and _is_base64(m.group("s")):
                    spans.append((pos + m.start("s"), pos + m.end("s")))
            pos = end + 1
    return spans


def _is_base64(value: str) -> bool:
    """Secret data values are base64: whole quads that decode (plain words like 'None' are not)."""
    if len(value) % 4 or (len(value) < 8 and not value.endswith("=")):
        return False
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True
