//! RFC 6962 Merkle tree hashing, compact ranges, and inclusion/consistency proofs.
//!
//! Proof generation reads only *complete* subtrees (a [`NodeId`]: `2^level` leaves starting
//! at `index << level`). Which nodes a proof needs depends only on the index and sizes,
//! never on hash values, so a store can first ask [`inclusion_proof_nodes`] for the list,
//! fetch them in one go, then build the proof from a map.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

/// The root of the empty tree: SHA-256 of the empty string.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// RFC 6962 leaf hash: SHA-256(0x00 ‖ entry bytes).
pub fn leaf_hash(entry: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0u8]);
    hasher.update(entry);
    hasher.finalize().into()
}

/// RFC 6962 interior node hash: SHA-256(0x01 ‖ left ‖ right).
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([1u8]);
    hasher.update(left);
    hasher.update(right);
    hasher.finalize().into()
}

/// A complete subtree: `2^level` leaves starting at leaf `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId {
    pub level: u8,
    pub index: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("index {index} is not below tree size {size}")]
    IndexOutOfRange { index: u64, size: u64 },
    #[error("a consistency proof needs 0 < old size ({old}) <= new size ({new})")]
    BadSizes { old: u64, new: u64 },
    #[error("the proof has the wrong number of hashes")]
    WrongLength,
    #[error("the proof does not lead to the expected root hash")]
    RootMismatch,
}

/// Largest power of two strictly smaller than `n` (n >= 2).
fn split_point(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1u64 << (63 - (n - 1).leading_zeros())
}

/// The complete subtrees that make up the leaf range `[start, end)`, left to right, where
/// `start` is aligned the way RFC 6962 ranges are (every range a proof asks for is).
fn range_nodes(start: u64, end: u64, out: &mut Vec<NodeId>) {
    let mut start = start;
    while start < end {
        // The biggest aligned power-of-two block at `start` that fits in the range.
        let align = if start == 0 { 63 } else { start.trailing_zeros() };
        let fit = 63 - (end - start).leading_zeros();
        let level = align.min(fit);
        out.push(NodeId { level: level as u8, index: start >> level });
        start += 1u64 << level;
    }
}

/// MTH of leaves `[start, end)` given the complete subtree hashes.
fn range_hash<E>(start: u64, end: u64, get: &mut impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Hash, E> {
    let mut nodes = Vec::new();
    range_nodes(start, end, &mut nodes);
    // Fold from the right: MTH of an unbalanced range is left-heavy.
    let mut acc: Option<Hash> = None;
    for node in nodes.into_iter().rev() {
        let h = get(node)?;
        acc = Some(match acc {
            None => h,
            Some(right) => node_hash(&h, &right),
        });
    }
    Ok(acc.unwrap_or_else(empty_root))
}

/// RFC 6962 PATH(index, D[size]): the audit path, leaf's sibling first.
pub fn inclusion_proof<E>(
    index: u64,
    size: u64,
    mut get: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Result<Vec<Hash>, ProofError>, E> {
    if index >= size {
        return Ok(Err(ProofError::IndexOutOfRange { index, size }));
    }
    let mut path = Vec::new();
    // Walk down from the root; collect siblings, then reverse (RFC order is bottom-up).
    let (mut lo, mut hi, mut m) = (0u64, size, index);
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            path.push(range_hash(lo + k, hi, &mut get)?);
            hi = lo + k;
        } else {
            path.push(range_hash(lo, lo + k, &mut get)?);
            lo += k;
            m -= k;
        }
    }
    path.reverse();
    Ok(Ok(path))
}

/// RFC 6962 PROOF(old, D[new]): the consistency proof between two tree sizes.
pub fn consistency_proof<E>(
    old: u64,
    new: u64,
    mut get: impl FnMut(NodeId) -> Result<Hash, E>,
) -> Result<Result<Vec<Hash>, ProofError>, E> {
    if old == 0 || old > new {
        return Ok(Err(ProofError::BadSizes { old, new }));
    }
    if old == new {
        return Ok(Ok(Vec::new()));
    }
    // SUBPROOF(m, D[lo..hi], b), iteratively; hashes are collected top-down and reversed.
    let mut proof = Vec::new();
    let (mut lo, mut hi, mut m, mut whole) = (0u64, new, old, true);
    loop {
        let n = hi - lo;
        if m == n {
            if !whole {
                proof.push(range_hash(lo, hi, &mut get)?);
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            proof.push(range_hash(lo + k, hi, &mut get)?);
            hi = lo + k;
        } else {
            proof.push(range_hash(lo, lo + k, &mut get)?);
            lo += k;
            m -= k;
            whole = false;
        }
    }
    proof.reverse();
    Ok(Ok(proof))
}

/// The nodes [`inclusion_proof`] will ask for, so a store can fetch them in one query.
pub fn inclusion_proof_nodes(index: u64, size: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let _ = inclusion_proof::<()>(index, size, |n| {
        nodes.push(n);
        Ok([0; 32])
    });
    nodes
}

/// The nodes [`consistency_proof`] will ask for.
pub fn consistency_proof_nodes(old: u64, new: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    let _ = consistency_proof::<()>(old, new, |n| {
        nodes.push(n);
        Ok([0; 32])
    });
    nodes
}

/// The nodes needed to compute the root of a tree of `size` leaves.
pub fn root_nodes(size: u64) -> Vec<NodeId> {
    let mut nodes = Vec::new();
    range_nodes(0, size, &mut nodes);
    nodes
}

/// The root hash of a tree of `size` leaves from its complete subtrees.
pub fn root_from_nodes<E>(size: u64, mut get: impl FnMut(NodeId) -> Result<Hash, E>) -> Result<Hash, E> {
    range_hash(0, size, &mut get)
}

/// RFC 9162 §2.1.3.2: recompute the root from an inclusion proof.
pub fn root_from_inclusion_proof(index: u64, size: u64, leaf: &Hash, proof: &[Hash]) -> Result<Hash, ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let (mut fn_, mut sn, mut r) = (index, size - 1, *leaf);
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    Ok(r)
}

/// Verify that `leaf` is at `index` in the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(index: u64, size: u64, leaf: &Hash, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if root_from_inclusion_proof(index, size, leaf, proof)? == *root { Ok(()) } else { Err(ProofError::RootMismatch) }
}

/// RFC 9162 §2.1.4.2: verify that the tree (`new`, `new_root`) extends (`old`, `old_root`).
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::BadSizes { old, new });
    }
    if old == new {
        return if proof.is_empty() && old_root == new_root {
            Ok(())
        } else if proof.is_empty() {
            Err(ProofError::RootMismatch)
        } else {
            Err(ProofError::WrongLength)
        };
    }
    if old == 0 {
        // Every tree extends the empty tree; the proof must be empty.
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::WrongLength) };
    }
    if proof.is_empty() {
        return Err(ProofError::WrongLength);
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if old.is_power_of_two() {
        path.push(*old_root);
    }
    path.extend_from_slice(proof);
    let (mut fn_, mut sn) = (old - 1, new - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    let (mut fr, mut sr) = (path[0], path[0]);
    for c in &path[1..] {
        if sn == 0 {
            return Err(ProofError::WrongLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fn_ & 1 == 0 && fn_ != 0 {
                fn_ >>= 1;
                sn >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongLength);
    }
    if fr != *old_root || sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

/// The right edge of a tree: the roots of its maximal complete subtrees, largest first.
/// Appending needs only this, so a store keeps it next to the tree size and appends
/// without reading any other node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored frontier does not fit tree size {size}: {hashes} hashes, expected {expected}")]
pub struct FrontierError {
    pub size: u64,
    pub hashes: usize,
    pub expected: usize,
}

impl Frontier {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Rebuild from a stored size and concatenated 32-byte hashes.
    pub fn from_parts(size: u64, bytes: &[u8]) -> Result<Self, FrontierError> {
        let expected = size.count_ones() as usize;
        if bytes.len() != expected * 32 {
            return Err(FrontierError { size, hashes: bytes.len() / 32, expected });
        }
        let hashes = bytes
            .chunks_exact(32)
            .map(|c| {
                let mut h = [0u8; 32];
                h.copy_from_slice(c);
                h
            })
            .collect();
        Ok(Self { size, hashes })
    }

    /// The hashes, concatenated, for storage.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.hashes.concat()
    }

    /// Append one leaf hash; returns the complete subtrees (level >= 1) this finished.
    pub fn push(&mut self, leaf: Hash) -> Vec<(NodeId, Hash)> {
        let index = self.size;
        let mut completed = Vec::new();
        let mut h = leaf;
        let mut level = 0u8;
        // Each trailing one bit of `index` is a subtree of that level now merged.
        while (index >> level) & 1 == 1 {
            let left = self.hashes.pop().expect("frontier has one hash per set bit of size");
            h = node_hash(&left, &h);
            level += 1;
            completed.push((NodeId { level, index: index >> level }, h));
        }
        self.hashes.push(h);
        self.size += 1;
        completed
    }

    /// Append one leaf hash without reporting the completed subtrees (verifiers).
    pub fn push_leaf(&mut self, leaf: Hash) {
        let index = self.size;
        let mut h = leaf;
        let mut level = 0u8;
        while (index >> level) & 1 == 1 {
            let left = self.hashes.pop().expect("frontier has one hash per set bit of size");
            h = node_hash(&left, &h);
            level += 1;
        }
        self.hashes.push(h);
        self.size += 1;
    }

    /// The root hash of the tree so far.
    pub fn root(&self) -> Hash {
        let mut iter = self.hashes.iter().rev();
        let Some(last) = iter.next() else {
            return empty_root();
        };
        iter.fold(*last, |acc, left| node_hash(left, &acc))
    }
}

/// MTH of a list of leaf hashes (used by verifiers that have every leaf).
pub fn root_of_leaves(leaves: &[Hash]) -> Hash {
    let mut frontier = Frontier::new();
    for leaf in leaves {
        frontier.push(*leaf);
    }
    frontier.root()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn tree(leaves: &[Hash]) -> HashMap<NodeId, Hash> {
        let mut nodes = HashMap::new();
        let mut f = Frontier::new();
        for (i, l) in leaves.iter().enumerate() {
            nodes.insert(NodeId { level: 0, index: i as u64 }, *l);
            for (id, h) in f.push(*l) {
                nodes.insert(id, h);
            }
        }
        nodes
    }

    fn naive_root(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&naive_root(&leaves[..k]), &naive_root(&leaves[k..]))
            }
        }
    }

    #[test]
    fn proofs_round_trip_for_every_size_up_to_70() {
        let leaves: Vec<Hash> = (0..70u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        let nodes = tree(&leaves);
        let get = |n: NodeId| -> Result<Hash, ()> { nodes.get(&n).copied().ok_or(()) };
        for size in 1..=70u64 {
            let root = naive_root(&leaves[..size as usize]);
            assert_eq!(root_from_nodes(size, get).unwrap(), root, "size {size}");
            assert_eq!(root_of_leaves(&leaves[..size as usize]), root);
            for index in 0..size {
                let proof = inclusion_proof(index, size, get).unwrap().unwrap();
                verify_inclusion(index, size, &leaves[index as usize], &proof, &root).unwrap();
                assert!(verify_inclusion(index, size, &leaves[(index as usize + 1) % 70], &proof, &root).is_err());
            }
            for old in 1..=size {
                let old_root = naive_root(&leaves[..old as usize]);
                let proof = consistency_proof(old, size, get).unwrap().unwrap();
                verify_consistency(old, size, &old_root, &root, &proof).unwrap();
                if old != size {
                    assert!(verify_consistency(old, size, &root, &old_root, &proof).is_err());
                }
            }
        }
    }

    #[test]
    fn frontier_survives_storage() {
        let mut f = Frontier::new();
        for i in 0..13u8 {
            f.push(leaf_hash(&[i]));
        }
        let g = Frontier::from_parts(13, &f.to_bytes()).unwrap();
        assert_eq!(f, g);
        assert!(Frontier::from_parts(12, &f.to_bytes()).is_err());
    }
}
