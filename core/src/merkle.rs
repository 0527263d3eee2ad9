//! Merkle trees over the audit log, as Certificate Transparency defines them (RFC 9162
//! §2.1): the tree hash of a list of leaves, inclusion proofs (this entry is in the log
//! of that size) and consistency proofs (the log of size `m` is a prefix of the log of
//! size `n`), with the verifiers an outside auditor runs. Pure functions, no I/O, so a
//! verifier can be written against this file alone.
//!
//! - leaf hash: `SHA-256(0x00 ‖ leaf)`; interior node: `SHA-256(0x01 ‖ left ‖ right)`;
//!   the empty tree: `SHA-256("")`.
//! - A tree of `n > 1` leaves splits at `k`, the largest power of two below `n`.
//!
//! The audit log's leaves are its entries' chain hashes (32 bytes each), so a tree head
//! commits to every entry's content and order.

use sha2::{Digest, Sha256};

pub type Hash = [u8; 32];

/// `SHA-256(0x00 ‖ data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(data);
    hasher.finalize().into()
}

/// `SHA-256(0x01 ‖ left ‖ right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// The tree hash of no leaves.
pub fn empty_root() -> Hash {
    Sha256::digest(b"").into()
}

/// Largest power of two strictly below `n` (`n >= 2`).
fn split(n: usize) -> usize {
    debug_assert!(n >= 2);
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// The tree hash of `leaves` (already leaf-hashed).
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            // Iterative over perfect subtrees would be faster; the recursion is
            // log2(n) deep and each level touches every leaf once.
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The audit path of leaf `index` in the tree of `leaves`; `None` if out of range.
pub fn inclusion_proof(leaves: &[Hash], index: usize) -> Option<Vec<Hash>> {
    if index >= leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    path(index, leaves, &mut proof);
    Some(proof)
}

fn path(m: usize, leaves: &[Hash], out: &mut Vec<Hash>) {
    let n = leaves.len();
    if n <= 1 {
        return;
    }
    let k = split(n);
    if m < k {
        path(m, &leaves[..k], out);
        out.push(root(&leaves[k..]));
    } else {
        path(m - k, &leaves[k..], out);
        out.push(root(&leaves[..k]));
    }
}

/// The proof that the first `old_size` leaves are a prefix of `leaves`; `None` unless
/// `old_size <= leaves.len()`. Empty when the sizes are equal or `old_size` is 0.
pub fn consistency_proof(leaves: &[Hash], old_size: usize) -> Option<Vec<Hash>> {
    if old_size > leaves.len() {
        return None;
    }
    let mut proof = Vec::new();
    if old_size > 0 && old_size < leaves.len() {
        subproof(old_size, leaves, true, &mut proof);
    }
    Some(proof)
}

fn subproof(m: usize, leaves: &[Hash], whole: bool, out: &mut Vec<Hash>) {
    let n = leaves.len();
    if m == n {
        if !whole {
            out.push(root(leaves));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, &leaves[..k], whole, out);
        out.push(root(&leaves[k..]));
    } else {
        subproof(m - k, &leaves[k..], false, out);
        out.push(root(&leaves[..k]));
    }
}

/// RFC 9162 §2.1.3.2: whether `proof` shows leaf `leaf` at `index` in a tree of `size`
/// leaves with root `root`.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    if index >= size {
        return false;
    }
    let (mut f_n, mut s_n) = (index, size - 1);
    let mut r = *leaf;
    for p in proof {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            r = node_hash(p, &r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    s_n == 0 && r == *root
}

/// RFC 9162 §2.1.4.2: whether `proof` shows the tree of `old_size` leaves with root
/// `old_root` is a prefix of the tree of `new_size` leaves with root `new_root`.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> bool {
    if old_size > new_size {
        return false;
    }
    if old_size == new_size {
        return proof.is_empty() && old_root == new_root;
    }
    if old_size == 0 {
        // Anything extends the empty tree.
        return proof.is_empty();
    }
    let mut proof: Vec<Hash> = proof.to_vec();
    // If old_size is a power of two, the old root is the first node of the path.
    if old_size.is_power_of_two() {
        proof.insert(0, *old_root);
    }
    let Some((first, rest)) = proof.split_first() else {
        return false;
    };
    let (mut f_n, mut s_n) = (old_size - 1, new_size - 1);
    while f_n & 1 == 1 {
        f_n >>= 1;
        s_n >>= 1;
    }
    let (mut f_r, mut s_r) = (*first, *first);
    for c in rest {
        if s_n == 0 {
            return false;
        }
        if f_n & 1 == 1 || f_n == s_n {
            f_r = node_hash(c, &f_r);
            s_r = node_hash(c, &s_r);
            if f_n & 1 == 0 {
                while f_n & 1 == 0 && f_n != 0 {
                    f_n >>= 1;
                    s_n >>= 1;
                }
            }
        } else {
            s_r = node_hash(&s_r, c);
        }
        f_n >>= 1;
        s_n >>= 1;
    }
    f_r == *old_root && s_r == *new_root && s_n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<Hash> {
        (0..n)
            .map(|i| leaf_hash(format!("entry {i}").as_bytes()))
            .collect()
    }

    /// RFC 6962's reference trees: roots of the first leaves of its test vector data
    /// (as in Certificate Transparency's Go and C++ test suites).
    #[test]
    fn known_roots() {
        let data: [&[u8]; 8] = [
            b"",
            b"\x00",
            b"\x10",
            b"\x20\x21",
            b"\x30\x31",
            b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
        ];
        let hashed: Vec<Hash> = data.iter().map(|d| leaf_hash(d)).collect();
        let expected = [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
        ];
        for n in 1..=8 {
            assert_eq!(
                hex::encode(root(&hashed[..n])),
                expected[n - 1],
                "{n} leaves"
            );
        }
        assert_eq!(
            hex::encode(empty_root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn every_inclusion_proof_verifies_and_tampering_fails() {
        for n in 1..=33 {
            let tree = leaves(n);
            let head = root(&tree);
            for (index, leaf) in tree.iter().enumerate() {
                let proof = inclusion_proof(&tree, index).unwrap();
                assert!(
                    verify_inclusion(leaf, index as u64, n as u64, &proof, &head),
                    "{index}/{n}"
                );
                // Wrong leaf, index or root, or a changed proof: all refused. (The size
                // is bound by the signed tree head that carries it, not by the proof.)
                assert!(!verify_inclusion(
                    &leaf_hash(b"x"),
                    index as u64,
                    n as u64,
                    &proof,
                    &head
                ));
                if n > 1 {
                    let other = (index + 1) % n;
                    assert!(!verify_inclusion(
                        leaf,
                        other as u64,
                        n as u64,
                        &proof,
                        &head
                    ));
                    let mut bent = proof.clone();
                    bent[0][0] ^= 1;
                    assert!(!verify_inclusion(
                        leaf,
                        index as u64,
                        n as u64,
                        &bent,
                        &head
                    ));
                }
                assert!(!verify_inclusion(
                    leaf,
                    index as u64,
                    n as u64,
                    &proof,
                    &empty_root()
                ));
            }
            assert!(inclusion_proof(&tree, n).is_none());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_fork_fails() {
        for n in 1..=33 {
            let tree = leaves(n);
            let new_root = root(&tree);
            for m in 0..=n {
                let old_root = root(&tree[..m]);
                let proof = consistency_proof(&tree, m).unwrap();
                assert!(
                    verify_consistency(m as u64, n as u64, &old_root, &new_root, &proof),
                    "{m} → {n}"
                );
                if m > 0 && m < n {
                    // A forked history: entry 0 rewritten after the old checkpoint.
                    let mut forked = tree.clone();
                    forked[0] = leaf_hash(b"rewritten");
                    let forked_root = root(&forked);
                    let forked_proof = consistency_proof(&forked, m).unwrap();
                    assert!(!verify_consistency(
                        m as u64,
                        n as u64,
                        &old_root,
                        &forked_root,
                        &forked_proof
                    ));
                    // A bent proof: refused.
                    let mut bent = proof.clone();
                    bent[0][31] ^= 1;
                    assert!(!verify_consistency(
                        m as u64, n as u64, &old_root, &new_root, &bent
                    ));
                }
            }
            assert!(consistency_proof(&tree, n + 1).is_none());
        }
    }
}
