//! Published RFC 6962 test vectors.
//!
//! Source: github.com/transparency-dev/merkle, `testonly/constants.go` (LeafInputs,
//! NodeHashes, RootHashes) and `proof/verify_test.go` (inclusionProofs,
//! consistencyProofs; leaf numbers there are 1-based). The same vectors ship with
//! certificate-transparency-go's merkletree tests.

use countersign_log::merkle::{self, Hash, NodeId};
use std::collections::HashMap;

fn h(hex: &str) -> Hash {
    let bytes: Vec<u8> = (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    bytes.try_into().unwrap()
}

fn unhex(hex: &str) -> Vec<u8> {
    (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect()
}

const LEAF_INPUTS: [&str; 8] =
    ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];

const ROOTS: [&str; 9] = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

const LEAF_HASHES: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
    "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
    "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
    "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
];

/// (1-based leaf, size, proof) from verify_test.go `inclusionProofs`.
fn inclusion_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (3, 3, vec![h("fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125")]),
        (
            2,
            5,
            vec![
                h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
    ]
}

/// (size1, size2, proof) from verify_test.go `consistencyProofs`.
fn consistency_vectors() -> Vec<(u64, u64, Vec<Hash>)> {
    vec![
        (1, 1, vec![]),
        (
            1,
            8,
            vec![
                h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
            ],
        ),
        (
            6,
            8,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
        (
            2,
            5,
            vec![
                h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
            ],
        ),
        (
            6,
            7,
            vec![
                h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
            ],
        ),
    ]
}

fn tree() -> (Vec<Hash>, HashMap<NodeId, Hash>) {
    let leaves: Vec<Hash> = LEAF_INPUTS.iter().map(|l| merkle::leaf_hash(&unhex(l))).collect();
    let mut nodes = HashMap::new();
    let mut frontier = merkle::Frontier::new();
    for (i, leaf) in leaves.iter().enumerate() {
        nodes.insert(NodeId { level: 0, index: i as u64 }, *leaf);
        nodes.extend(frontier.push(*leaf));
    }
    (leaves, nodes)
}

#[test]
fn leaf_hashes_and_roots_match_rfc6962_vectors() {
    let (leaves, _) = tree();
    for (leaf, want) in leaves.iter().zip(LEAF_HASHES) {
        assert_eq!(*leaf, h(want));
    }
    assert_eq!(merkle::empty_root(), h(ROOTS[0]));
    for size in 0..=8 {
        assert_eq!(merkle::root_of_leaves(&leaves[..size]), h(ROOTS[size]), "root of size {size}");
    }
}

#[test]
fn generated_inclusion_proofs_equal_the_vectors_and_verify() {
    let (leaves, nodes) = tree();
    for (leaf1, size, want) in inclusion_vectors() {
        let index = leaf1 - 1;
        let got = merkle::inclusion_proof::<()>(index, size, |n| Ok(nodes[&n])).unwrap().unwrap();
        assert_eq!(got, want, "inclusion proof for leaf {index} in size {size}");
        merkle::verify_inclusion(index, size, &leaves[index as usize], &want, &h(ROOTS[size as usize])).unwrap();
        assert!(
            merkle::verify_inclusion(index, size * 2, &leaves[index as usize], &want, &h(ROOTS[size as usize]))
                .is_err()
        );
    }
}

#[test]
fn generated_consistency_proofs_equal_the_vectors_and_verify() {
    let (_, nodes) = tree();
    for (old, new, want) in consistency_vectors() {
        let got = merkle::consistency_proof::<()>(old, new, |n| Ok(nodes[&n])).unwrap().unwrap();
        assert_eq!(got, want, "consistency proof {old} -> {new}");
        merkle::verify_consistency(old, new, &h(ROOTS[old as usize]), &h(ROOTS[new as usize]), &want).unwrap();
        if !want.is_empty() {
            assert!(
                merkle::verify_consistency(old, new, &h(ROOTS[new as usize]), &h(ROOTS[old as usize]), &want).is_err()
            );
            assert!(
                merkle::verify_consistency(old, new, &h(ROOTS[old as usize]), &h(ROOTS[new as usize]), &want[1..])
                    .is_err()
            );
        }
    }
}
