"""The table of secret rules the ``secrets`` filter applies: one named regex per kind of secret.

Provider rules recognise a token by its documented prefix and shape (``ghp_…``, ``AKIA…``);
context rules recognise a secret by where it sits in a command (``export API_TOKEN=…``,
``curl -u user:pass``, ``mysql -p…``). Entropy alone flags innocent hashes and paths (atuin
issue #3057), so randomness (:func:`looks_random`) is only ever asked of a value that a context
already makes suspect: the argument of ``--sig`` or ``login``, a URL's user part, a query
parameter; and it excludes what random-looking benign values are (UUIDs, git SHAs, file hashes,
words glued in camel case, gitleaks' stop words).

Every rule names keywords (lower case), one of which occurs in the lowered text of anything
the rule matches; the rule is tried only when one does. Keywords are short and shared between
rules on purpose: each distinct keyword costs one substring test per command. A rule's
named group ``value`` (or the whole match) is the secret; only that part is redacted. Earlier
rules win when two find the same secret, so provider rules come first.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote as url_unquote

GITLEAKS_DATA = Path(__file__).resolve().parent / "data" / "gitleaks_rules.json"

# One shell word: bare text, "double", 'single' or $'ansi' quoted. An unterminated quote
# runs to the end of the line (the shell would keep reading).
_DQ = r'"(?:[^"\\]|\\.)*"?'
_SQ = r"'[^']*'?"
_ANSI = r"\$'(?:[^'\\]|\\.)*'?"
# A bare comma ends a value only when another key=value follows (mount -o user=a,password=b).
_BARE_CHAR = r"(?:[^\s'\"`;&|<>()\\,]|\\.|,(?![\w.-]+=))"
_CLOSED = r"""(?:"(?:[^"\\]|\\.)*"|'[^']*'|\$\([^()]*\)|`[^`]*`)"""
# Closed quoted parts and bare text glue into one word (abc"def", 'user':'pw'); an
# unterminated quote is a word on its own, to the end of the line. Bare text is matched one
# character per step (no nested quantifiers), so a failing match cannot backtrack exponentially.
WORD = rf"(?:(?:{_ANSI}|{_CLOSED}|{_BARE_CHAR})(?:{_CLOSED}|{_BARE_CHAR})*|{_DQ}|{_SQ})"
VALUE = rf"(?P<value>{WORD})"
# Options end at a shell separator, so `mysql ... ; ls -p` does not reach into `ls`.
_SAME_CMD = r"[^|;&\n]*?"

_PLACEHOLDER = re.compile(
    r"""^(?:
        \$[\w{(!@#?*-]          # $VAR ${VAR} $(cmd) $1 …: a reference, not a value
      | `                       # `cmd`
      | <[^<>]*>$               # <PLACEHOLDER>, and our own <redacted:…>
      | \{\{.*\}\}$ | \{[^{}]*\}$
      | %[\w.-]+%$              # %VAR%
      | \[[^\]]*\]$             # [password]
      | \[\s*[{\["]              # a JSON list: the structure, its secrets have their own keys
      | (?:\*+|x+|X+|\.+|-+|_+|•+)$
      | (?:true|false|yes|no|on|off|null|none|nil|undefined|empty|changeme)$
      | [~/]|\.\.?/             # a path names where the secret is kept
      | [A-Za-z][\w+.-]*://     # a URL: credentials inside it have their own rule
      | @(?=[~/.{$<]|[\w-]+[./])  # @file: read from a file (curl -d @f, ibmcloud @f)
      | .*\{\{                  # a {{template}} fills the value in later
      # The word for the thing itself is documentation, not a secret: --password=password.
      | (?:(?:your|my|the|new|some|user)[_-]?)?
        (?:password|passwd|pass|pwd|secret|token|api[_-]?key|key|value|credentials?)s?$
    )""",
    re.VERBOSE | re.IGNORECASE,
)


def unquote(text: str) -> str:
    """The value a shell word stands for, near enough to judge it (quotes removed)."""
    if text.startswith("$'"):
        text = text[1:]
    return text.replace('"', "").replace("'", "").strip()


def is_placeholder(text: str) -> bool:
    """Whether a value is empty, a reference, a path, a URL or an obvious placeholder."""
    v = unquote(text)
    if not v or "<redacted:" in v or _PLACEHOLDER.match(v):
        return True
    trimmed = v.rstrip("})]")  # without a closing bracket of the surrounding syntax
    return not trimmed or _PLACEHOLDER.match(trimmed) is not None


@dataclass(frozen=True, slots=True)
class Rule:
    """One kind of secret: its name (shown as ``<redacted:NAME>``), pattern and gate.

    The regex is kept as its source (``regex``, ``flags``) and compiled the first time
    :attr:`pattern` is read: the keyword gate tries a rule only when one of its keywords
    occurs, so most rules are never compiled in a session, and loading the table (at the
    shell's start) compiles none.
    """

    name: str
    description: str
    regex: str
    keywords: tuple[str, ...]
    # Extra judgement on a match (name of the variable, kind of value); None accepts all.
    accept: Callable[[re.Match[str]], bool] | None = None
    # A second gate, tested only once a keyword is found: one of these must occur as well.
    requires: tuple[str, ...] = ()
    # Where the rule comes from, as ``delta memory explain`` names it: built-in or gitleaks.
    source: str = "built-in"
    # gitleaks' secretGroup (0: the first non-empty group); None: the group ``value`` or the
    # whole match, as built-in rules have it.
    secret_group: int | None = None
    # The flags ``regex`` is compiled with (``re.ASCII`` for gitleaks' rules).
    flags: int = 0
    _compiled: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def pattern(self) -> re.Pattern[str]:
        """The compiled regex, compiled on first use (two threads at once compile it twice)."""
        compiled = self._compiled
        if compiled is None:
            compiled = re.compile(self.regex, self.flags)
            object.__setattr__(self, "_compiled", compiled)  # a cache: the rule stays frozen
        return compiled

    @property
    def compiled(self) -> bool:
        """Whether :attr:`pattern` has been compiled yet."""
        return self._compiled is not None


def _value_ok(m: re.Match[str]) -> bool:
    return not is_placeholder(m.group("value"))


def _charset_bits(value: str) -> float:
    """log2 of the size of the smallest usual alphabet ``value`` is drawn from."""
    if re.fullmatch(r"[0-9a-f]+|[0-9A-F]+", value):
        return 4.0
    if re.fullmatch(r"[0-9a-z]+|[0-9A-Z]+", value):
        return math.log2(36)
    if re.fullmatch(r"[0-9A-Za-z]+", value):
        return math.log2(62)
    return 6.0  # base64, base64url and the like


_HASH_LIKE = re.compile(
    r"""^(?:[0-9a-f]{7,12}|[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{56}|[0-9a-f]{64}|[0-9a-f]{96}
      | [0-9a-f]{128}                                  # git SHAs (short and long), file hashes
      | [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}   # a UUID
      | (?:sha(?:1|224|256|384|512)|md5|blake2b?|xxh\d*)[:-].*            # a labelled digest
      | v?\d+(?:[._-]\d+)+(?:[._+-]?[a-z][\w.+-]*)?          # a version: 1.2.3-rc1
    )$""",
    re.VERBOSE | re.IGNORECASE,
)
_WORDISH = re.compile(r"[A-Z]?[a-z]{3,}|[A-Z]{4,}(?![a-z])")


_STOPWORDS: list[tuple[str, ...]] = []


def _stopword(value: str) -> bool:
    """Whether ``value`` holds one of the stop words of gitleaks' generic rule (read once)."""
    if not _STOPWORDS:
        doc = json.loads(GITLEAKS_DATA.read_text(encoding="utf-8"))
        words = {
            w
            for rule in doc["rules"]
            if rule["id"] == "generic-api-key"
            for allow in rule["allowlists"]
            for w in allow["stopwords"]
        }
        _STOPWORDS.append(tuple(sorted(words)))
    low = value.lower()
    return any(w in low for w in _STOPWORDS[0])


def looks_random(value: str, min_len: int = 16) -> bool:
    """Whether ``value`` looks like generated key material rather than a name, hash or number.

    The defences real scanners use: a minimum length; Shannon entropy against what a random
    string of that length over the value's own alphabet would show (hex, base36, base62,
    base64: per-charset floors rather than one number); at least two kinds of character; no
    UUID, git SHA, file hash or version number; not mostly English-looking words (camel or
    snake case: ``MyServiceAccount2``); no stop word of gitleaks' generic rule in it.
    """
    v = value.strip("\"'")
    if len(v) < min_len or len(v) > 512 or not re.fullmatch(r"[\w+/=.~-]+", v, re.ASCII):
        return False
    if _HASH_LIKE.match(v) or "//" in v or v.startswith(("/", ".", "-")):
        return False
    core = v.rstrip("=")
    kinds = sum(bool(re.search(c, core)) for c in ("[a-z]", "[A-Z]", "[0-9]"))
    if kinds < 2:
        return False
    n = len(core)
    # Expected distinct-symbol entropy of n random symbols from 2**bits, less a margin.
    bits = _charset_bits(core)
    floor = min(bits, math.log2(n)) * 0.8
    if shannon_entropy(core) < floor:
        return False
    wordish = sum(len(w) for w in _WORDISH.findall(core))
    if wordish >= 0.5 * n:
        return False
    if _class_counts_unlikely(core, bits):
        return False
    return not _stopword(core)


def _binomial_tail(n: int, x: int, p: float) -> float:
    """P(X <= x) if x is below the mean of Binomial(n, p), else P(X >= x)."""
    lo, hi = (0, x) if x < n * p else (x, n)
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(lo, hi + 1))


def _class_counts_unlikely(value: str, bits: float) -> bool:
    """Whether how many digits, capitals or small letters ``value`` has is too unlikely for a
    random draw from its alphabet (ripsecrets' char-class test, in spirit: a random base64
    string of 24 characters almost never has no digit, nor 20 of them)."""
    base = 2**bits
    classes = [("0", "9")] if base <= 16 else [("0", "9"), ("A", "Z"), ("a", "z")]
    if 16 < base < 40:
        classes = [("0", "9"), ("A", "Z") if value.isupper() else ("a", "z")]
    n = len(value)
    for lo, hi in classes:
        count = sum(lo <= c <= hi for c in value)
        width = ord(hi) - ord(lo) + 1
        if _binomial_tail(n, count, min(width / base, 1.0)) < 1e-4:
            return True
    return False


def shannon_entropy(text: str) -> float:
    """Bits per character of ``text`` by its own character frequencies."""
    if not text:
        return 0.0
    n = len(text)
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def _url_random_ok(m: re.Match[str]) -> bool:
    return looks_random(url_unquote(m.group("value")), 12)


def _random_ok(m: re.Match[str]) -> bool:
    return not is_placeholder(m.group("value")) and looks_random(unquote(m.group("value")))


_CREDENTIAL = re.compile(r"[\w.@+-]{1,64}:[\x21-\x7e]{3,128}", re.ASCII)


def _decodes_to_credentials(word: str) -> bool:
    """Whether a base64 word is ``user:password`` in disguise (``dXNlcjpodW50ZXIy``)."""
    if len(word) % 4 or len(word) < 12:
        return False
    try:
        raw = base64.b64decode(word, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return False
    return bool(_CREDENTIAL.fullmatch(text)) and not is_placeholder(text.partition(":")[2])


# --- names of variables and options that hold secrets ---------------------------------------
_SECRET_NAME = re.compile(
    r"""token(?!i[sz])|secret|passw(?:or)?d|passphrase|credential|api[_.-]?key
      | (?<!by)(?<!com)(?<!low)(?<!high)(?<!band)(?<!all)pass$ | (?:^|[_.-])(?:pwd|auth)$
      | [_.-]key$
      | (?-i:[a-z]Key$|[A-Z]KEY$)
      | (?:access|account|master|private|signing|encryption|license|deploy|session)[_.-]?key
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Names that say *about* a secret rather than hold one: TOKEN_FILE, PASSWORD_LENGTH, KEY_ID.
_NOT_SECRET_NAME = re.compile(
    r"""[_.-](?:file|files|path|dir|directory|id|ids|name|names|type|url|uri|endpoint|host|port
      | len|length|size|limit|count|max|min|ttl|timeout|expiry|expires|expiration|header|prefix
      | suffix|format|mode|policy|enabled|required|helper|command|cmd|fd|env|var|location|store
      | index|field|version|algorithm|alg|method|scheme|provider|user|username|level|hint|prompt
      | stdin|manager|source|server|ring|chain|usage|bits|curve)$ | tokens$ | keys$
      | ^(?:ask|no|use|show|print|prompt|read|reset|generate|gen|keep|save|store|delete|list
          |export|import|revoke|remove|rm)[_.-]
    """,
    re.VERBOSE | re.IGNORECASE,
)


def secret_name(name: str) -> bool:
    """Whether a variable, key or option name says it holds a secret (``DB_PASSWORD``)."""
    name = name.strip("\"'$-")
    if name in ("PWD", "OLDPWD"):  # the shell's working directories
        return False
    return bool(_SECRET_NAME.search(name)) and not _NOT_SECRET_NAME.search(name)


def _assignment_ok(m: re.Match[str]) -> bool:
    if re.search(r"\balias[ \t]+$", m.string[: m.start()]):
        return False  # alias pwd='…' defines a command
    value = m.group("value")
    sep = m.group("sep")
    if ":" in sep:
        if value[:1] in "\"'" and not _closed(value):
            return False  # "Password: " -s VAR: the colon sat inside a prompt string
        if sep.endswith(":") and value[:1] not in "\"'" and "-" not in m.group("name"):
            return False  # PASS:HASH, force:auth:web: a colon glued to a word is no assignment
        # (a header glued to its value, X-Auth-Token:abc, still counts: its name has a dash)
    return secret_name(m.group("name")) and _value_ok(m)


def _closed(value: str) -> bool:
    return value.find(value[0], 1) != -1  # its opening quote closes again


# Options are stricter than variables about "key": --key, --recv-key name files and key ids.
_SECRET_OPTION = re.compile(
    r"""token(?!i[sz])|secret|passw(?:or)?d|passphrase|credential|api-?key
      | (?<!by)(?<!com)pass(?:in|out)?$ | (?:^|-)auth$
      | (?:access|account|master|license|deploy|session|encryption|signing)-?key$
    """,
    re.VERBOSE | re.IGNORECASE,
)


def _option_ok(m: re.Match[str]) -> bool:
    value = unquote(m.group("value"))
    if value.startswith("-") or re.match(r"(?:env|file|fd):|stdin$", value):
        return False  # the next option, or openssl's -pass env:VAR / file:PATH
    name = m.group("name").lstrip("-")
    return bool(_SECRET_OPTION.search(name)) and not _NOT_SECRET_NAME.search(name) and _value_ok(m)


def _user_password_ok(m: re.Match[str]) -> bool:
    if re.fullmatch(r"""(["']?)[^\s:'"]*:[^\s'"]+\1""", m.group("value")):
        return False  # the plain form: the rule before this one redacts just the password
    _user, sep, password = unquote(m.group("value")).partition(":")
    return bool(sep) and not is_placeholder(password)


def _command_value_ok(m: re.Match[str]) -> bool:
    before = m.string[: m.start()].split()
    if before and before[-1].startswith("-") and before[-1] != "--":
        return False  # `-name mysql -print`: the tool is an option's argument, not run
    return _value_ok(m)


def _bearer_ok(m: re.Match[str]) -> bool:
    value = m.group("value")
    if value.startswith(("/", ".", "~", "-")):
        return False  # `bearer --version`, `mv ./bin/bearer /usr/local/bin`: the tool bearer
    return not (value.isalpha() and value.islower())  # an English word, not a token


def _pem_ok(m: re.Match[str]) -> bool:
    body = re.sub(r"\\[nr]|\s", "", m.group("value")).lstrip("\"'")
    # Anything but a reference or a placeholder is key material (its text may look like a URL).
    return bool(body) and not body.startswith(("<", "$", "{{", "...", "-----END"))


def _r(
    name: str,
    description: str,
    pattern: str,
    keywords: tuple[str, ...],
    accept: Callable[[re.Match[str]], bool] | None = None,
    flags: int = 0,
    requires: tuple[str, ...] = (),
) -> Rule:
    return Rule(name, description, pattern, keywords, accept, requires, flags=flags)


_USER_OPTIONS = ("-u", "--user", "-a", "--auth", "--proxy-user", "--http-user")
_SECRET_KW = ("token", "secret", "pass", "pwd", "key", "credential", "auth")
_END = r"(?![\w-])"

RULES: tuple[Rule, ...] = (
    # --- provider tokens, recognised by their prefix -----------------------------------------
    _r(
        "aws-access-key-id",
        "AWS access key id (AKIA…/ASIA…)",
        r"\b(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z0-9]{16}\b",
        ("akia", "asia", "abia", "acca", "a3t"),
    ),
    _r(
        "github-token",
        "GitHub token (ghp_, gho_, ghu_, ghs_, ghr_, github_pat_)",
        r"\b(?:gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{36,251})\b",
        ("gh", "github_pat"),
    ),
    _r(
        "gitlab-token",
        "GitLab token (glpat-, gldt-, glrt-, … or a runner registration token)",
        r"\b(?:gl(?:pat|dt|ft|rt|soat|cbt|ffct|imt|oas|ptt|agent|wt)-[0-9A-Za-z_.-]{20,}"
        r"|GR1348941[0-9A-Za-z_-]{20,})|_gitlab_session=(?P<value>[0-9a-z]{32})",
        ("gl", "gr1348941", "gitlab"),
    ),
    _r(
        "slack-webhook",
        "Slack incoming webhook URL",
        r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<value>[A-Za-z0-9+/_-]{16,})",
        ("slack",),
    ),
    _r(
        "slack-token",
        "Slack token (xoxb-, xoxp-, xapp-, …)",
        r"\b(?:xox[abposre](?:\.xox[bp])?-[0-9A-Za-z-]{8,}|xapp-\d-[0-9A-Za-z-]{8,})",
        ("xox", "xapp"),
    ),
    _r(
        "stripe-key",
        "Stripe secret or restricted key, or webhook secret",
        r"\b(?:(?:sk|rk)_(?:test|live|prod)_[0-9A-Za-z]{10,}|whsec_[0-9A-Za-z]{24,})\b",
        ("k_", "whsec_"),
    ),
    _r("npm-token", "npm access token (npm_…)", r"\bnpm_[0-9A-Za-z]{36}\b", ("npm_",)),
    _r(
        "npm-auth-token",
        "npm registry credential (_authToken / _auth / _password)",
        rf"(?i)(?<![\w-])_(?:auth(?:token)?|password)[\"']?(?:[ \t]*=[ \t]*|[ \t]+){VALUE}",
        ("_auth", "_pass"),
        _value_ok,
    ),
    _r(
        "netlify-token",
        "Netlify access token",
        rf"\bnfp_[0-9A-Za-z]{{36,}}{_END}"
        r"|(?i:netlify[\w.-]{0,20})[\"']?[ \t]*[=:][ \t]*[\"']?(?P<value>[\w=-]{40,46})(?![\w=-])",
        ("nfp_", "netlify"),
    ),
    _r("pulumi-token", "Pulumi access token (pul-…)", r"\bpul-[a-f0-9]{40}\b", ("pul-",)),
    _r(
        "anthropic-key",
        "Anthropic API key (sk-ant-…)",
        rf"\bsk-ant-(?:api|admin|oat|ort|sid)\d\d-[A-Za-z0-9_-]{{20,}}{_END}",
        ("sk-",),
    ),
    _r(
        "openai-key",
        "OpenAI API key (sk-proj-…, sk-…T3BlbkFJ…)",
        rf"\bsk-(?:proj|svcacct|admin|None)-[A-Za-z0-9_-]{{20,}}{_END}"
        r"|\bsk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}\b|\bsk-[A-Za-z0-9]{48}\b",
        ("sk-",),
    ),
    _r(
        "huggingface-token",
        "Hugging Face token (hf_…, api_org_…)",
        r"\b(?:hf_|api_org_)[A-Za-z0-9]{30,}\b",
        ("hf_", "api_org_"),
    ),
    _r(
        "google-api-key",
        "Google API key (AIza…) or OAuth secret/token (GOCSPX-…, ya29.…)",
        rf"\bAIza[0-9A-Za-z_-]{{35}}{_END}|\bGOCSPX-[0-9A-Za-z_-]{{28}}{_END}"
        rf"|\bya29\.[0-9A-Za-z_-]{{20,}}{_END}",
        ("aiza", "gocspx", "ya29"),
    ),
    _r(
        "jwt",
        "JSON Web Token (eyJ….eyJ….…)",
        r"\bey[A-Za-z0-9_+/-]{15,}\.ey[A-Za-z0-9_+/\\-]{15,}\.[A-Za-z0-9_+/\\=-]*",
        (".ey",),
    ),
    _r(
        "private-key",
        "PEM private key block",
        r"-----BEGIN[ A-Z0-9_-]{0,100}?(?<!PUBLIC )KEY(?: BLOCK)?-----"
        r"(?P<value>.*?)(?=-----END[ A-Z0-9_-]{0,100}KEY(?: BLOCK)?-----|$)",
        ("-----",),
        _pem_ok,
        re.DOTALL,
    ),
    _r(
        "telegram-bot-token",
        "Telegram bot token (123456789:AA…)",
        r"(?<![\w:])\d{5,16}:A[A-Za-z0-9_-]{34}(?![\w-])",
        (":a",),
    ),
    _r(
        "provider-token",
        "token with a provider's own prefix (SonarQube, NuGet, crates.io, Twitch, Adafruit IO,"
        " Tavily, Jina, Mailgun, TeamCity, Salesforce, Doppler, Vault, New Relic, …)",
        r"\b(?:sq[upa]_[0-9A-Za-z]{40}|access-(?:sandbox|development|production)-[0-9a-f]{8}-[0-9a-f]{4}"
        r"-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|oy2[a-z0-9]{43}|cio[A-Za-z0-9]{32}|live_\d{6,12}_[A-Za-z0-9]{30}"
        r"|aio_[A-Za-z0-9]{28}|tvly-(?:dev-|prod-)?[A-Za-z0-9]{32}|jina_[A-Za-z0-9_-]{40,80}"
        r"|(?:pub)?key-[0-9a-f]{32}|eyJ0eXAiOiAiVENWMiJ9\.[\w-]{20,}(?:\.[\w-]{20,})?"
        r"|00D[0-9A-Za-z]{12,15}![\w.]{40,}|dp\.(?:pt|st|sa|ct|scim|audit)\.[\w-]{20,}"
        r"|hv[sbr]\.[\w-]{24,}|NR(?:AK|JS|II|AA)-[A-Za-z0-9]{19,32}|sgp_(?:local_)?[0-9a-f]{40}"
        r"|sgp_[0-9a-f]{16}_[0-9a-f]{40}|PMAK-[0-9a-f]{24}-[0-9a-f]{34}|sk_(?:live|test)_\w{24,}"
        r"|SG\.[\w-]{22}\.[\w-]{43}|[0-9a-f]{32}-us\d{1,2}|dapi[0-9a-f]{32}(?:-\d)?"
        r"|gl(?:c|sa)_[A-Za-z0-9+/_]{32,}={0,3}|EAAA[\w-]{60}|sq0(?:atp|csp)-[\w-]{22,43})(?![\w-])",
        (
            "sq",
            "oy2",
            "access-sandbox-",
            "access-development-",
            "access-production-",
            "cio",
            "live_",
            "aio_",
            "tvly-",
            "jina_",
            "key-",
            "eyj0exaioiaivenwmij9",
            "00d",
            "dp.",
            "hv",
            "nr",
            "sgp_",
            "pmak-",
            "sk_",
            "sg.",
            "-us",
            "dapi",
            "glc_",
            "glsa_",
            "eaaa",
        ),
    ),
    _r(
        "facebook-app-token",
        "Facebook app access token (APP_ID|SECRET)",
        r"(?<=\d{15})\|(?P<value>[A-Za-z0-9_-]{27})(?![\w-])",  # a literal first: a fast scan
        ("|",),
    ),
    _r(
        "webhook-url",
        "webhook URL whose path is the secret (Teams, Discord, Google Chat, Zapier, IFTTT, …)",
        r"(?i)(?:\.webhook\.office\.com/webhookb2/|outlook\.office(?:365)?\.com/webhook/"
        r"|discord(?:app)?\.com/api/webhooks/|chat\.googleapis\.com/v1/spaces/"
        r"|hooks\.zapier\.com/hooks/catch/|maker\.ifttt\.com/(?:trigger/[^/\s]+/with/)?key/"
        r"|logic\.azure\.com[:\d]*/workflows/|/hooks/(?=[a-z0-9]{26}\b)"
        r"|api\.telegram\.org/(?:file/)?bot(?=\d))(?P<value>[^\s'\"<>`]{8,})",
        (
            "webhook",
            "discord",
            "chat.googleapis",
            "zapier",
            "ifttt",
            "logic.azure",
            "/hooks/",
            "api.telegram",
        ),
    ),
    _r(
        "password-hash",
        "password hash (bcrypt, md5crypt, apr1, sha256crypt, sha512crypt, yescrypt, argon2,"
        " Cisco type 8/9, Django/Werkzeug PBKDF2)",
        r"(?<![\w$])(?:\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{53,}"
        r"|\$(?:1|apr1)\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22,}"
        r"|\$[56]\$(?:rounds=\d+\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{43,}"
        r"|\$(?:y|gy|7)\$[./A-Za-z0-9]+\$[./A-Za-z0-9]{0,64}\$[./A-Za-z0-9]{20,}"
        r"|\$argon2(?:id|i|d)\$(?:v=\d+\$)?m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]{16,}"
        r"|\$[89]\$[./A-Za-z0-9]{14}\$[./A-Za-z0-9]{43,}"
        r"|pbkdf2[_:-]sha(?:1|256|512)[$:]\d+[$:][^\s$:'\"]+[$:][A-Za-z0-9+/=._-]{16,})",
        (
            "$2",
            "$1$",
            "$apr1$",
            "$5$",
            "$6$",
            "$y$",
            "$gy$",
            "$7$",
            "$argon2",
            "$8$",
            "$9$",
            "pbkdf2",
        ),
    ),
    _r(
        "vault-unseal-key",
        "Hashicorp Vault unseal key (vault operator unseal KEY)",
        rf"\bvault[ \t]+operator[ \t]+unseal(?:[ \t]+-[\w-]+(?:=\S+)?)*[ \t]+{VALUE}",
        ("unseal",),
        _value_ok,
    ),
    _r(
        "basic-credentials",
        "base64 of user:password (an HTTP Basic credential or a registry auth blob)",
        r"(?<![\w+/=])(?P<value>[A-Za-z0-9+/]{8,}={0,2})(?![\w+/=])",
        ("base64", "basic", "auth", "echo", "printf"),
        lambda m: _decodes_to_credentials(m.group("value")),
    ),
    # --- secrets recognised by where they sit --------------------------------------------------
    _r(
        "url-credentials",
        "password in a URL (scheme://user:password@host)",
        r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@'\"]*:(?P<value>[^\s/@'\"]+)@",
        ("://",),
        _value_ok,
    ),
    _r(
        "authorization-header",
        "Authorization header credentials",
        r"(?i)\b(?:proxy-)?authorization[\"']?[ \t]*[:=][ \t]*"
        r"(?:(?:bearer|basic|token|bot|digest|negotiate|ntlm|oauth|api-?key|key|sso-key|ssws"
        r"|genie-?key|splunk|aws4-hmac-sha256|hmac)[ \t]+)?(?P<value>[^\s\"'`,;{}]+)",
        ("auth",),
        _value_ok,
    ),
    _r(
        "bearer-token",
        "Bearer token",
        r"(?i)\bbearer[\"']?(?:[ \t]+|=)(?P<value>[A-Za-z0-9._~+/=-]{8,})",
        ("bearer",),
        _bearer_ok,
    ),
    _r(
        "aws-secret",
        "AWS secret access key or session token",
        rf"(?i)\baws_?(?:secret_?(?:access_?)?key|session_?token|security_?token)[\"']?"
        rf"(?:[ \t]*[=:][ \t]*|[ \t]+){VALUE}",
        ("aws",),
        _value_ok,
        requires=("secret", "session", "security"),
    ),
    _r(
        "curl-user-password",
        "password in -u/--user user:password (curl, wget, httpie)",
        rf"\b(?:curl|wget|https?|xh|lftp){_SAME_CMD}(?<![\w-])"
        r"(?:-u|-U|--user|--proxy-user|--http-user|-a|--auth)(?:=|[ \t]*)"
        r"(?P<q>[\"']?)[^\s:'\"]*:(?P<value>[^\s'\"]+)(?P=q)",
        ("curl", "wget", "http", "xh", "lftp"),
        _value_ok,
        requires=_USER_OPTIONS,
    ),
    _r(  # the same, for any quoting of the user:password word ('user':'pass', "u:p"x)
        "curl-user-password",
        "password in -u/--user user:password (curl, wget, httpie)",
        rf"\b(?:curl|wget|https?|xh|lftp){_SAME_CMD}(?<![\w-])"
        rf"(?:-u|-U|--user|--proxy-user|--http-user|-a|--auth)(?:=|[ \t]*){VALUE}",
        ("curl", "wget", "http", "xh", "lftp"),
        _user_password_ok,
        requires=_USER_OPTIONS,
    ),
    _r(
        "mysql-password",
        "password glued to -p (mysql, mariadb, 7z, rar)",
        rf"\b(?:mysql\w*|mariadb\w*|7z\w?|rar|unrar){_SAME_CMD}(?<![\w-])-p(?P<value>{WORD})",
        ("mysql", "mariadb", "7z", "rar"),
        _command_value_ok,
        requires=("-p",),
    ),
    _r(
        "password-option",
        "password after a tool's short password option (sshpass -p, zip -P, redis-cli -a, …)",
        rf"\b(?:sshpass{_SAME_CMD}(?<![\w-])-p|(?:zip|unzip|zipcloak){_SAME_CMD}(?<![\w-])-P"
        rf"|redis-cli{_SAME_CMD}(?<![\w-])-a|mongo\w*{_SAME_CMD}(?<![\w-])-p"
        rf"|(?:docker|podman|nerdctl|buildah|skopeo|helm|oras|crane){_SAME_CMD}\blogin\b"
        rf"{_SAME_CMD}(?<![\w-])-p|ssh-keygen{_SAME_CMD}(?<![\w-])-[NP]"
        rf"|smbclient{_SAME_CMD}(?<![\w-])-U[ \t]*[^\s%]+%)[ \t]*{VALUE}",
        ("pass", "zip", "redis", "mongo", "login", "key", "smbclient"),
        _value_ok,
        requires=("-p", "-a", "-n", "-u"),
    ),
    _r(
        "htpasswd-password",
        "password given to htpasswd -b on the command line",
        rf"\bhtpasswd{_SAME_CMD}(?<![\w-])-\w*b\w*(?:[ \t]+-\w+)*[ \t]+\S+[ \t]+\S+[ \t]+{VALUE}",
        ("pass",),
        _value_ok,
        requires=("htpasswd",),
    ),
    _r(
        "stdin-password",
        "password echoed into chpasswd, passwd --stdin, sudo -S or --password-stdin",
        rf"\b(?:echo|printf)(?:[ \t]+-[neE]+)*[ \t]+{VALUE}[ \t]*\|[ \t]*"
        r"(?=[^|;&\n]*(?:--password-stdin|--with-token|chpasswd|passwd[ \t]+--stdin"
        r"|sudo(?:[ \t]+-\w+)*[ \t]+-\w*S))",
        ("stdin", "pass", "token", "sudo"),
        _value_ok,
        requires=("echo", "printf"),
    ),
    _r(
        "secret-option",
        "value of an option named like a secret (--password=, --token, -storepass, …)",
        r"(?i)(?<![\w-])(?P<name>--?(?:[A-Za-z][\w-]*?)?(?:pass|secret|token|api-?key|credential"
        rf"|auth|key)[\w-]*)(?:=|[ \t]+){VALUE}",
        _SECRET_KW,
        _option_ok,
    ),
    _r(
        "secret-assignment",
        "value assigned to a name like *TOKEN*, *SECRET*, *PASSWORD*, *API_KEY*",
        r"(?i)(?<![\w.$-])(?:\$env:|\$)?[\"']?"
        r"(?P<name>(?:[A-Za-z_][\w.-]*?)?(?:token|secret|pass|pwd|key|credential|auth)[\w.-]*)"
        r"[\"']?(?P<sep>[ \t]*=(?!=)[ \t]*|[ \t]*:(?![:/])[ \t]*)"
        rf"(?:!!?\w+[ \t]+)?{VALUE}",  # YAML tags: key: !!binary VALUE
        _SECRET_KW,
        _assignment_ok,
    ),
    _r(  # Python and xonsh: os.environ['X'] = '…', ${'X'} = '…', env["X"]="…"
        "secret-assignment",
        "value assigned to a name like *TOKEN*, *SECRET*, *PASSWORD*, *API_KEY*",
        r"(?i)(?:\$\{|\[|\()[ \t]*[\"'](?P<name>[A-Za-z_][\w.-]*)[\"'][ \t]*"
        rf"(?P<sep>[\]}}][ \t]*=(?!=)[ \t]*|,[ \t]*){VALUE}",
        _SECRET_KW,
        _assignment_ok,
    ),
    _r(
        "secret-assignment",
        "GCP service-account private key id",
        rf"(?i)[\"']?private_key_id[\"']?[ \t]*[:=][ \t]*{VALUE}",
        ("private_key_id",),
        _value_ok,
    ),
    _r(
        "login-password",
        "password after -p of a login (az login -u bob -p …, any tool's `login … -p`)",
        rf"\blogin\b{_SAME_CMD}(?<![\w-])(?:-p|-P)(?:=|[ \t]+){VALUE}",
        ("login",),
        _value_ok,
        requires=("-p",),
    ),
    _r(
        "netrc-password",
        "netrc-style `login USER password PASS` (in a printf, echo or here-string)",
        r"(?i)\b(?:machine|login)[ \t]+\S+[^\n]*?\bpassword[ \t]+"
        r"(?P<value>[^\s'\"\\]+)",
        ("password",),
        _value_ok,
        requires=("login", "machine"),
    ),
    _r(
        "high-entropy-argument",
        "random-looking value after a flag or word that takes a secret (--sig, login, auth, …)",
        r"(?i)(?<![\w-])(?P<name>--?(?:sig|signature|hmac|otp|mfa|totp|license|serial|activation"
        r"|apikey|seed|salt|nonce|code|key|k)[\w-]*|login|auth|authenticate|activate|unlock"
        rf"|register|token)(?:=|[ \t]+){VALUE}",
        (
            "sig",
            "hmac",
            "otp",
            "mfa",
            "license",
            "serial",
            "activation",
            "apikey",
            "seed",
            "salt",
            "nonce",
            "code",
            "-k",
            "key",
            "login",
            "auth",
            "activate",
            "unlock",
            "register",
            "token",
        ),
        _random_ok,
    ),
    _r(
        "high-entropy-url",
        "random-looking token in a URL's user part (https://TOKEN@host)",
        r"(?i)\b[a-z][a-z0-9+.-]*://(?P<value>[^\s:/?#@'\"]{16,})@",
        ("://",),
        _url_random_ok,
    ),
    _r(
        "high-entropy-url",
        "random-looking value of a URL query parameter named like a secret (?sig=…, &token=…)",
        r"(?i)[?&;][\w.-]*(?:sig|signature|(?<!view)key|token|auth|secret|code|pass|pwd|cred)[\w.-]*="
        r"(?P<value>[^&\s'\"#]{12,})",
        ("sig", "key", "token", "auth", "secret", "code", "pass", "pwd", "cred"),
        _url_random_ok,
        requires=("?", "&", ";"),
    ),
    _r(  # fish `set -gx NAME value`, csh `setenv NAME value`
        "secret-assignment",
        "value assigned to a name like *TOKEN*, *SECRET*, *PASSWORD*, *API_KEY*",
        r"(?i)\b(?:set(?:[ \t]+-[a-zA-Z]+)*|setenv)[ \t]+(?P<name>[A-Za-z_]\w*)"
        rf"(?P<sep>[ \t]+){VALUE}",
        ("set",),
        _assignment_ok,
    ),
)

RULE_NAMES: tuple[str, ...] = tuple(r.name for r in RULES)
