"""Signs and verifies against the Sigstore stand-ins with sigstore-python and
pypi-attestations only (run by tests/support/tests/sigstore_standins.rs).

argv: CLIENT_TRUST_CONFIG TRUSTED_ROOT TOKEN_REQUEST_URL TOKEN_REQUEST_TOKEN OUT_BUNDLE
Prints one line per check; exits non-zero (with a traceback) when one fails.
"""

import base64
import hashlib
import json
import sys
import urllib.request

from pypi_attestations import Attestation, GitHubPublisher
from sigstore.dsse import StatementBuilder, Subject
from sigstore._internal.rekor.client import RekorClient
from sigstore.errors import VerificationError
from sigstore.models import Bundle, ClientTrustConfig, TrustedRoot
from sigstore.oidc import IdentityToken
from sigstore.sign import SigningContext
from sigstore.verify import Verifier

config_path, root_path, token_url, request_token, out_bundle = sys.argv[1:]

# The job's ID token for audience `sigstore`, as `sigstore sign` gets it on GitHub Actions.
req = urllib.request.Request(
    token_url + "&audience=sigstore",
    headers={"Authorization": "bearer " + request_token},
)
with urllib.request.urlopen(req) as resp:
    token = json.load(resp)["value"]
identity = IdentityToken(token)
print("identity:", identity.identity)

def statement(name):
    return (
        StatementBuilder()
        .subjects([Subject(name=name, digest={"sha256": "ab" * 32})])
        .predicate_type("https://docs.pypi.org/attestations/publish/v1")
        .predicate({})
        .build()
    )


# Three statements with one certificate (as `sigstore sign` signs several files): log
# entries 0, 1 and 2, each proven against its own tree size (1, 2, 3).
names = [
    "mypylogger-0.2.8-py3-none-any.whl",
    "mypylogger-0.2.8.tar.gz",
    "mypylogger-0.2.8-cp312-abi3-manylinux_2_17_x86_64.whl",
]
with open(config_path) as f:
    config = ClientTrustConfig.from_json(f.read())
ctx = SigningContext.from_trust_config(config)
with ctx.signer(identity, cache=True) as signer:
    bundles = [signer.sign_dsse(statement(n)) for n in names]
bundle = bundles[0]
print("signed: log indexes", [b.log_entry._inner.log_index for b in bundles])
with open(out_bundle, "w") as f:
    f.write(bundle.to_json())

verifier = Verifier(trusted_root=TrustedRoot.from_file(root_path))
publisher = GitHubPublisher(repository="octo/mypylogger", workflow="release.yml")
payload_type, payload = verifier.verify_dsse(bundle, publisher._as_policy())
assert payload_type == "application/vnd.in-toto+json", payload_type
assert json.loads(payload)["subject"][0]["name"] == names[0]
for b, name in zip(bundles[1:], names[1:]):
    _, payload = verifier.verify_dsse(b, publisher._as_policy())
    assert json.loads(payload)["subject"][0]["name"] == name
print("verified: bundles")

# The entries as Rekor serves them now (proofs against the tree of 3), by UUID and by
# index, bundled with the same certificate and envelope, verify too.
rekor = RekorClient(config.signing_config._inner.rekor_tlog_urls[0].url)
info = rekor.log.get()
assert info.tree_size == 3, info
for i, b in enumerate(bundles):
    if i == 0:
        # (sigstore-python takes log index 0 for "none"): by UUID, the leaf hash.
        body = b.log_entry._inner.canonicalized_body
        entry = rekor.log.entries.get(uuid=hashlib.sha256(b"\x00" + body).hexdigest())
    else:
        entry = rekor.log.entries.get(log_index=i)
    assert entry._inner.inclusion_proof.tree_size == 3
    refetched = Bundle._from_parts(b.signing_certificate, b._dsse_envelope, entry)
    verifier.verify_dsse(refetched, publisher._as_policy())
print("verified: entries as served by index and uuid at tree size", info.tree_size)

# The bundle as it travels (JSON), and as PEP 740 carries it (an Attestation), verify too.
verifier.verify_dsse(Bundle.from_json(bundle.to_json()), publisher._as_policy())
attestation = Attestation.from_bundle(bundle)
attestation = Attestation.model_validate_json(attestation.model_dump_json())
verifier.verify_dsse(attestation.to_bundle(), publisher._as_policy())
print("verified: attestation")


def refused(what, bundle, policy):
    try:
        verifier.verify_dsse(bundle, policy)
    except VerificationError as e:
        print(f"refused: {what}: {e}")
        return
    raise AssertionError(f"{what} was accepted")


# Another repository's publisher.
refused(
    "another repository",
    bundle,
    GitHubPublisher(repository="octo/other", workflow="release.yml")._as_policy(),
)
# Another workflow.
refused(
    "another workflow",
    bundle,
    GitHubPublisher(repository="octo/mypylogger", workflow="ci.yml")._as_policy(),
)

# One byte of the envelope's signature changed.
doc = json.loads(bundle.to_json())
sig = bytearray(base64.b64decode(doc["dsseEnvelope"]["signatures"][0]["sig"]))
sig[len(sig) // 2] ^= 0x01
doc["dsseEnvelope"]["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
refused("tampered signature", Bundle.from_json(json.dumps(doc)), publisher._as_policy())

# One byte of the log entry's inclusion proof root changed.
doc = json.loads(bundle.to_json())
proof = doc["verificationMaterial"]["tlogEntries"][0]["inclusionProof"]
root = bytearray(base64.b64decode(proof["rootHash"]))
root[0] ^= 0x01
proof["rootHash"] = base64.b64encode(bytes(root)).decode()
refused("tampered root hash", Bundle.from_json(json.dumps(doc)), publisher._as_policy())

print("OK")
