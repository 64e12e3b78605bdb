"""Fake secrets for the filter tests, built at run time so no token-shaped string is committed.

``POSITIVES``: (rule, command, secret) - the filter must name ``rule`` and remove ``secret``.
``NEGATIVES``: commands that look close to a secret but hold none.
"""

from __future__ import annotations

import string

_ALNUM = string.ascii_letters + string.digits


def fake(prefix: str, n: int, alphabet: str = _ALNUM, seed: int = 7) -> str:
    """``prefix`` and ``n`` characters of ``alphabet``, deterministic and varied."""
    out = []
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) % 2**31
        out.append(alphabet[x % len(alphabet)])
    return prefix + "".join(out)


UPPER = string.ascii_uppercase + "234567"
HEX = "0123456789abcdef"
AWS_ID = fake("AKIA", 16, UPPER)
AWS_SECRET = fake("", 40, _ALNUM + "+/")
GH_PAT = fake("ghp_", 36)
GH_FINE = fake("github_pat_", 82, _ALNUM + "_")
GL_PAT = fake("glpat-", 20, _ALNUM + "-_")
SLACK_BOT = (
    "xoxb-" + fake("", 11, string.digits) + "-" + fake("", 12, string.digits) + "-" + fake("", 24)
)
SLACK_HOOK_PATH = fake("T", 8, UPPER) + "/" + fake("B", 10, UPPER) + "/" + fake("", 24)
STRIPE = fake("sk_live_", 24)
NPM = fake("npm_", 36)
NETLIFY = fake("nfp_", 40)
PULUMI = fake("pul-", 40, HEX)
OPENAI = fake("sk-proj-", 64, _ALNUM + "_-")
ANTHROPIC = fake("sk-ant-api03-", 93, _ALNUM + "_-") + "AA"
HF = fake("hf_", 34, string.ascii_letters)
GOOGLE = fake("AIza", 35, _ALNUM + "_-")
JWT = fake("eyJ", 30) + "." + fake("eyJ", 40) + "." + fake("", 43, _ALNUM + "_-")
PEM_BODY = fake("MIIE", 60, _ALNUM + "+/")
PW = "Tr0ub4dor&3x"
RANDOM20 = fake("", 20, seed=11)
TELEGRAM = fake("", 9, string.digits) + ":A" + fake("", 34, _ALNUM + "_-", seed=3)
B64_CRED = "YWRtaW46aHVudGVyMnB3"  # base64 of admin:hunter2pw
BCRYPT = "$2b$12$" + fake("", 53, _ALNUM + "./", seed=5)
SHA512CRYPT = "$6$rounds=5000$" + fake("", 8, seed=6) + "$" + fake("", 86, _ALNUM + "./", seed=8)
UUID = "1234abcd-12ab-34cd-56ef-1234567890ab"

POSITIVES: list[tuple[str, str, str]] = [
    ("aws-access-key-id", f"aws configure set aws_access_key_id {AWS_ID}", AWS_ID),
    ("aws-secret", f"export AWS_SECRET_ACCESS_KEY={AWS_SECRET}", AWS_SECRET),
    ("aws-secret", f"AWS_SESSION_TOKEN={AWS_SECRET}xyz aws s3 ls", AWS_SECRET),
    ("github-token", f"git clone https://{GH_PAT}@github.com/acme/app.git", GH_PAT),
    ("github-token", f"echo {GH_FINE} | gh auth login --with-token", GH_FINE),
    ("github-token", f"export GITHUB_TOKEN={fake('ghs_', 36)}", fake("ghs_", 36)),
    ("gitlab-token", f"curl --header 'X-Trace: {GL_PAT}' https://gitlab.com/api/v4/user", GL_PAT),
    ("slack-token", f"curl -d token={SLACK_BOT} https://slack.com/api/chat.postMessage", SLACK_BOT),
    (
        "slack-webhook",
        f"curl -X POST https://hooks.slack.com/services/{SLACK_HOOK_PATH} -d @msg.json",
        SLACK_HOOK_PATH,
    ),
    ("stripe-key", f"stripe listen --api-key {STRIPE}", STRIPE),
    ("npm-token", f"npm config set //registry.npmjs.org/:_authToken={NPM}", NPM),
    (
        "npm-auth-token",
        f"echo //npm.corp.local/:_authToken={fake('', 36, HEX)} >> ~/.npmrc",
        fake("", 36, HEX),
    ),
    ("htpasswd-password", f"htpasswd -bc /etc/nginx/.htpasswd admin {PW}", PW),
    ("netlify-token", f"netlify deploy --prod --auth {NETLIFY}", NETLIFY),
    ("pulumi-token", f"pulumi login --token {PULUMI}", PULUMI),
    ("openai-key", f"OPENAI_API_KEY={OPENAI} python chat.py", OPENAI),
    ("anthropic-key", f"export ANTHROPIC_API_KEY={ANTHROPIC}", ANTHROPIC),
    ("huggingface-token", f"huggingface-cli login --token {HF}", HF),
    (
        "google-api-key",
        f"curl 'https://maps.googleapis.com/maps/api/geocode/json?key={GOOGLE}'",
        GOOGLE,
    ),
    ("jwt", f"http GET api.local/me X-Session:{JWT}", JWT),
    (
        "private-key",
        f'echo "-----BEGIN RSA PRIVATE KEY-----\\n{PEM_BODY}\\n-----END RSA PRIVATE KEY-----" > k.pem',
        PEM_BODY,
    ),
    ("private-key", f"printf '%s' '-----BEGIN OPENSSH PRIVATE KEY----- {PEM_BODY}'", PEM_BODY),
    ("url-credentials", f"psql postgresql://app:{PW}@db.internal:5432/shop", PW),
    ("url-credentials", f"git remote add origin https://bob:{PW}@git.example.com/x.git", PW),
    (
        "authorization-header",
        f'curl -H "Authorization: Bearer {fake("", 32)}" api.io',
        fake("", 32),
    ),
    ("authorization-header", f"curl -H 'Authorization: Basic {fake('', 28)}==' x", fake("", 28)),
    ("bearer-token", f"curl --oauth2-bearer {fake('', 30)} https://api.io", fake("", 30)),
    ("curl-user-password", f"curl -u admin:{PW} https://jenkins.local", PW),
    ("curl-user-password", f"curl --user 'ci:{PW}' -X POST https://ci.local", PW),
    ("mysql-password", f"mysql -u root -p{PW} shop", PW),
    ("mysql-password", f"mysqldump -uadmin -p'{PW}' --all-databases", PW),
    ("password-option", f"sshpass -p '{PW}' ssh deploy@10.0.0.5", PW),
    ("password-option", f"docker login -u bob -p {PW} registry.example.com", PW),
    ("secret-option", f"psql --host=db --password={PW}", PW),
    ("secret-option", f"wget --http-password={PW} https://files.local/a.tgz", PW),
    ("secret-option", f"keytool -list -storepass {PW} -keystore ks.jks", PW),
    ("secret-assignment", f"export API_TOKEN={PW}", PW),
    ("secret-assignment", f'export DB_PASSWORD="{PW}"', PW),
    ("secret-assignment", f"PGPASSWORD={PW} psql -h db", PW),
    ("secret-assignment", f"docker run -e POSTGRES_PASSWD={PW} postgres", PW),
    ("secret-assignment", f"$MY_SECRET = '{PW}'", PW),
    ("secret-assignment", f"set -gx SLACK_API_KEY {PW}", PW),
    ("secret-assignment", f'curl -d \'{{"user":"a","password":"{PW}"}}\' https://x', PW),
    ("stdin-password", f"echo 'root:{PW}' | sudo chpasswd", PW),
    ("stdin-password", f"echo '{PW}' | docker login -u bob --password-stdin", PW),
    ("telegram-bot-token", f"curl https://tg.local/send -d bot={TELEGRAM}", TELEGRAM),
    (
        "provider-token",
        f"dotnet nuget push pkg.nupkg -k {fake('oy2', 43, HEX + 'xyz')}",
        fake("oy2", 43, HEX + "xyz"),
    ),
    ("provider-token", f"cargo login {fake('cio', 32)}", fake("cio", 32)),
    (
        "facebook-app-token",
        f"curl 'https://graph.facebook.com/me?access_token={fake('', 15, '0123456789')}|"
        f"{fake('', 27, seed=4)}'",
        fake("", 27, seed=4),
    ),
    (
        "provider-token",
        f"ffmpeg -f flv rtmp://live.twitch.tv/app/{fake('live_123456789_', 30)}",
        fake("live_123456789_", 30),
    ),
    (
        "webhook-url",
        f"curl -d @card.json https://acme.webhook.office.com/webhookb2/{UUID}@{UUID}"
        f"/IncomingWebhook/{fake('', 32, HEX)}/{UUID}",
        fake("", 32, HEX),
    ),
    ("webhook-url", f"curl https://discord.com/api/webhooks/1234567/{fake('', 68)}", fake("", 68)),
    ("password-hash", f"echo 'admin:{BCRYPT}' >> .htpasswd", BCRYPT),
    ("password-hash", f"usermod -p '{SHA512CRYPT}' bob", SHA512CRYPT),
    (
        "vault-unseal-key",
        f"vault operator unseal {fake('', 44, _ALNUM + '+/')}",
        fake("", 44, _ALNUM + "+/"),
    ),
    ("basic-credentials", f"echo {B64_CRED} | base64 -d", B64_CRED),
    ("secret-assignment", f"${{'DB_PASSWORD'}} = '{PW}'", PW),
    ("secret-assignment", f"os.environ['API_SECRET'] = '{PW}'", PW),
    ("secret-assignment", f'"private_key_id": "{fake("", 40, HEX)}"', fake("", 40, HEX)),
    ("login-password", f"az login -u bob@contoso.com -p '{PW}'", PW),
    (
        "netrc-password",
        f"printf 'machine api.example.com login bob password {PW}\\n' >> ~/.netrc",
        PW,
    ),
    ("high-entropy-argument", f"./cli login {RANDOM20}", RANDOM20),
    ("high-entropy-argument", f"az storage blob upload --sig {RANDOM20}", RANDOM20),
    ("high-entropy-url", f"git clone https://{RANDOM20}@git.example.com/a/b", RANDOM20),
    (
        "high-entropy-url",
        f"curl 'https://x.blob.core.windows.net/c?sv=2021&sig={RANDOM20}%3D'",
        RANDOM20,
    ),
]

NEGATIVES: list[str] = [
    "ls -la ~/.ssh",
    "git log --oneline -n 20",
    "export GITHUB_TOKEN=$(gh auth token)",
    "export API_TOKEN=",
    'export API_TOKEN="${TOKEN}"',
    "export API_TOKEN=<TOKEN>",
    "export GH_TOKEN_FILE=/run/secrets/gh",
    "TOKENIZERS_PARALLELISM=false python train.py",
    "curl -u admin: https://localhost",
    "curl --user admin https://localhost",
    "wget --user=admin --ask-password https://localhost",
    "docker login --username bob --password-stdin < pw.txt",
    "ssh-keygen -t ed25519 -N '' -f ~/.ssh/id_ed25519",
    "gpg --recv-key 0xABCDEF0123456789",
    "sudo find / -name mysql -print",
    "mysql -u root -p shop",
    "openssl genrsa -passout env:KEY_PASS -out key.pem 4096",
    "cat -----BEGIN PUBLIC KEY----- MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA",
    "read -s -p 'Password: ' pw",
    "alias pwd='pwd -P'",
    "cd $PWD/..",
    "git clone git@github.com:acme/app.git",
    "curl https://example.com:8443/status",
    "echo 'key=value' | sort",
    "az storage account keys list --account-name acct",
    "kubectl get secret db -o jsonpath='{.data.password}'",
    "ls /usr/share/dict | grep ghp_",
    "echo sk-short",
    "git checkout -b feature/AKIA-1234",
    f"docker pull alpine@sha256:{fake('', 64, HEX)}",
    f"git show {fake('', 40, HEX)}",
    f"./cli login --id {UUID}",
    "./cli login MyServiceAccount2",
    "echo $1$2 | awk '{print $1}'",
    "echo aGVsbG8gd29ybGQ= | base64 -d",
    "curl 'https://x.local/search?code=python&key=value'",
    "git clone https://github.com/acme/app.git",
    "pip install --index-url https://user@pypi.example.com/simple pkg",
    'ffmpeg -i in.wav -af "highpass=f=200,lowpass=f=3000" out.mp3',
    "bearer --version",
    "sudo mv ./bin/bearer /usr/local/bin",
    "gpg --delete-secret-and-public-key 0xABCDEF0123456789",
    """kubectl patch sa default -p '{"imagePullSecrets": [{"name": "regcred"}]}'""",
]
