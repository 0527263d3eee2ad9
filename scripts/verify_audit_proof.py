#!/usr/bin/env python3
"""Checks `vigil audit prove SEQ` output without trusting Vigil.

    vigil audit prove 42 > proof.json
    python3 scripts/verify_audit_proof.py proof.json --public-key HEX

Recomputes the entry's chain hash from its fields, the RFC 9162 inclusion proof up to
the checkpoint's signed root, the signed message, and the ed25519 signature with the
public key you recorded yourself (needs the `cryptography` package from PyPI; without
`--public-key` the key printed in the proof is used, which proves only consistency).
Exit 0 when everything holds, 1 naming the first thing that does not.
"""

import argparse
import hashlib
import json
import sys


def entry_hash(entry):
    h = hashlib.sha256()
    for part in (entry["prev_hash"], str(entry["seq"]), entry["at"], entry["kind"],
                 entry["actor"], entry["payload"]):
        h.update(part.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_inclusion(leaf, index, size, proof):
    """RFC 9162 section 2.1.3.2; None when the proof does not fit the size."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("proof", help="JSON printed by `vigil audit prove SEQ`")
    parser.add_argument("--public-key", help="ed25519 public key (hex) recorded earlier")
    args = parser.parse_args()
    with open(args.proof, encoding="utf-8") as f:
        proof = json.load(f)
    entry, checkpoint = proof["entry"], proof.get("checkpoint")
    if entry_hash(entry) != entry["hash"]:
        sys.exit(f"entry {entry['seq']}: its fields do not hash to {entry['hash']}")
    leaf = hashlib.sha256(b"\x00" + bytes.fromhex(entry["hash"])).digest()
    root = root_from_inclusion(leaf, proof["leaf_index"], proof["tree_size"],
                               [bytes.fromhex(p) for p in proof["proof"]])
    if root is None or root.hex() != proof["root_hash"]:
        sys.exit(f"entry {entry['seq']}: the inclusion proof does not lead to the root")
    if checkpoint is None:
        sys.exit("no signed checkpoint covers this entry yet (run `vigil audit checkpoint --new`)")
    if checkpoint["root_hash"] != proof["root_hash"] or checkpoint["tree_size"] != proof["tree_size"]:
        sys.exit("the proof is not against the checkpoint it carries")
    message = "vigil-audit-checkpoint v1\n{}\n{}\n{}\n{}\n".format(
        checkpoint["tree_size"], checkpoint["root_hash"], checkpoint["signed_at"],
        checkpoint["key_id"])
    if message != checkpoint["signed_message"]:
        sys.exit("the signed message does not match the checkpoint's fields")
    key_hex = args.public_key or checkpoint["public_key"]
    if hashlib.sha256(bytes.fromhex(key_hex)).hexdigest()[:16] != checkpoint["key_id"]:
        sys.exit("the checkpoint was signed with another key")
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        sys.exit("install the `cryptography` package to check the signature")
    try:
        Ed25519PublicKey.from_public_bytes(bytes.fromhex(key_hex)).verify(
            bytes.fromhex(checkpoint["signature"]), message.encode("utf-8"))
    except InvalidSignature:
        sys.exit("the checkpoint's signature is not valid")
    trust = "the recorded" if args.public_key else "the proof's own (not independent)"
    print(f"entry {entry['seq']} is in the signed log of {proof['tree_size']} entries "
          f"(root {proof['root_hash'][:16]}…, signed {checkpoint['signed_at']}, {trust} key)")


if __name__ == "__main__":
    main()
