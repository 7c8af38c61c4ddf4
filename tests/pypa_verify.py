"""Verifies PEP 740 attestations with PyPA's own libraries, not airlock's code: the
attestation is parsed by pypi-attestations, and `Attestation.verify` (sigstore-python's
`Verifier.verify_dsse` with the GitHub trusted publisher policy, then the statement's
subject checks) runs with a verifier built from a given trusted root instead of Sigstore's
production one (pypi-attestations has no trust-root parameter; its verify calls
`Verifier.production`, which this script points at the given root).

argv: TRUSTED_ROOT REPOSITORY WORKFLOW (DIST ATTESTATION)...
Prints one JSON line per pair: {"dist", "attestation", "ok", "predicate_type" | "error"}.
Exit 0 always (the caller checks each line); 2 on a usage error.
"""

import json
import sys
from pathlib import Path

import pypi_attestations._impl as impl
from pypi_attestations import Attestation, Distribution, GitHubPublisher
from sigstore.models import TrustedRoot
from sigstore.verify import Verifier

if len(sys.argv) < 6 or (len(sys.argv) - 4) % 2:
    sys.exit(2)
root_path, repository, workflow = sys.argv[1:4]
root = TrustedRoot.from_file(root_path)
impl.Verifier.production = classmethod(lambda cls, offline=False: Verifier(trusted_root=root))
publisher = GitHubPublisher(repository=repository, workflow=workflow)

pairs = sys.argv[4:]
for dist_path, att_path in zip(pairs[::2], pairs[1::2]):
    line = {"dist": Path(dist_path).name, "attestation": att_path}
    try:
        att = Attestation.model_validate_json(Path(att_path).read_bytes())
        predicate_type, _ = att.verify(publisher, Distribution.from_file(Path(dist_path)))
        line.update(ok=True, predicate_type=predicate_type)
    except Exception as e:  # every refusal, whatever its class, is reported
        line.update(ok=False, error=f"{type(e).__name__}: {e}")
    print(json.dumps(line), flush=True)
