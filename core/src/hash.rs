use sha2::{Digest, Sha256};

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: impl AsRef<[u8]>) -> String {
    hex::encode(Sha256::digest(bytes.as_ref()))
}

/// The hash-chain rule of the audit log, kept here so the writer (store) and any
/// outside verifier compute exactly the same thing.
///
/// `hash = sha256(prev_hash "\n" seq "\n" at "\n" kind "\n" actor "\n" payload)`,
/// with the genesis `prev_hash` being 64 zeros.
pub struct HashChain;

impl HashChain {
    pub const GENESIS: &'static str =
        "0000000000000000000000000000000000000000000000000000000000000000";

    pub fn entry_hash(
        prev_hash: &str,
        seq: i64,
        at: &str,
        kind: &str,
        actor: &str,
        payload: &str,
    ) -> String {
        let mut hasher = Sha256::new();
        for part in [prev_hash, &seq.to_string(), at, kind, actor, payload] {
            hasher.update(part.as_bytes());
            hasher.update(b"\n");
        }
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn chain_hash_depends_on_every_field() {
        let base = HashChain::entry_hash(HashChain::GENESIS, 1, "t", "k", "a", "{}");
        assert_ne!(
            base,
            HashChain::entry_hash(HashChain::GENESIS, 2, "t", "k", "a", "{}")
        );
        assert_ne!(
            base,
            HashChain::entry_hash(HashChain::GENESIS, 1, "t", "k", "a", "{ }")
        );
        assert_ne!(base, HashChain::entry_hash(&base, 1, "t", "k", "a", "{}"));
    }
}
