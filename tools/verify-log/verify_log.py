#!/usr/bin/env python3
"""Independent verifier for countersign evidence packages and log proofs.

Written from the specifications alone, not from countersign's Rust code:
  - RFC 6962 / RFC 9162 Merkle hashing and proof verification (sections 2.1.3.2, 2.1.4.2)
  - C2SP signed-note (https://c2sp.org/signed-note), tlog-checkpoint, tlog-proof
  - DSSE v1 (PAE) and in-toto Statement v1
  - Ed25519 (RFC 8032): the `cryptography` package if importable, else the pure-Python
    verification below (RFC 8032 section 5.1.7); set COUNTERSIGN_VERIFY_PURE=1 to force it.
  - the package layout in docs/evidence-log.md

Usage:
  verify_log.py package FILE [--vkey VKEY]
  verify_log.py proof PROOF_FILE ENTRY_FILE --vkey VKEY
  verify_log.py selftest

Exit codes: 0 verified, 1 verification failed, 2 usage or unreadable input.
Only the standard library is required.
"""

import base64
import hashlib
import json
import os
import sys
import tarfile

# ---------------------------------------------------------------- Ed25519 (RFC 8032)

_P = 2**255 - 19
_Q = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _recover_x(y, sign):
    if y >= _P:
        return None
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P)
    if x2 % _P == 0:
        return None if sign else 0
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P != 0:
        x = x * _SQRT_M1 % _P
    if (x * x - x2) % _P != 0:
        return None
    if (x & 1) != sign:
        x = _P - x
    return x


_GY = 4 * pow(5, _P - 2, _P) % _P
_GX = _recover_x(_GY, 0)
_G = (_GX, _GY, 1, _GX * _GY % _P)


def _add(a, b):
    A = (a[1] - a[0]) * (b[1] - b[0]) % _P
    B = (a[1] + a[0]) * (b[1] + b[0]) % _P
    C = 2 * a[3] * b[3] * _D % _P
    D = 2 * a[2] * b[2] % _P
    E, F, G, H = B - A, D - C, D + C, B + A
    return (E * F % _P, G * H % _P, F * G % _P, E * H % _P)


def _mul(s, pt):
    q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            q = _add(q, pt)
        pt = _add(pt, pt)
        s >>= 1
    return q


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % _P == 0 and (a[1] * b[2] - b[1] * a[2]) % _P == 0


def _decompress(s):
    if len(s) != 32:
        return None
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % _P)


def _ed25519_verify_pure(public, msg, sig):
    if len(public) != 32 or len(sig) != 64:
        return False
    a = _decompress(public)
    r = _decompress(sig[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(sig[32:], "little")
    if s >= _Q:
        return False
    h = int.from_bytes(hashlib.sha512(sig[:32] + public + msg).digest(), "little") % _Q
    return _equal(_mul(s, _G), _add(r, _mul(h, a)))


def ed25519_verify(public, msg, sig):
    if os.environ.get("COUNTERSIGN_VERIFY_PURE") != "1":
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError:
            pass
        else:
            try:
                Ed25519PublicKey.from_public_bytes(public).verify(sig, msg)
                return True
            except (InvalidSignature, ValueError):
                return False
    return _ed25519_verify_pure(public, msg, sig)


# ---------------------------------------------------------------- RFC 6962 / 9162


class VerifyError(Exception):
    def __init__(self, message, entry=None):
        super().__init__(message)
        self.entry = entry

    def __str__(self):
        prefix = "" if self.entry is None else "entry %d: " % self.entry
        return prefix + self.args[0]


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index, size, leaf, proof, root):
    if index >= size:
        raise VerifyError("index %d is not below tree size %d" % (index, size))
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerifyError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerifyError("inclusion proof too short")
    if r != root:
        raise VerifyError("inclusion proof does not lead to the checkpoint's root")


def verify_consistency(first, second, first_hash, second_hash, proof):
    if first > second:
        raise VerifyError("old size is larger than new size")
    if first == second:
        if proof or first_hash != second_hash:
            raise VerifyError("equal sizes need an empty proof and equal roots")
        return
    if first == 0:
        if proof:
            raise VerifyError("proof from the empty tree must be empty")
        return
    if not proof:
        raise VerifyError("empty consistency proof")
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerifyError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_hash or sr != second_hash:
        raise VerifyError("checkpoints are not consistent")


# ---------------------------------------------------------------- C2SP signed notes


class Vkey:
    def __init__(self, text):
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise VerifyError("malformed vkey")
        self.name, id_hex, key_b64 = parts
        raw = base64.b64decode(key_b64, validate=True)
        if len(raw) != 33 or raw[0] != 1:
            raise VerifyError("vkey is not an Ed25519 key")
        self.public = raw[1:]
        self.key_id = hashlib.sha256(self.name.encode() + b"\n\x01" + self.public).digest()[:4]
        if id_hex != self.key_id.hex():
            raise VerifyError("vkey's key id does not match its key")
        self.text = text.strip()


def open_note(note, vkey):
    """Return the note text if `vkey` signed it (C2SP signed-note)."""
    if not note.endswith("\n"):
        raise VerifyError("note does not end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise VerifyError("note has no signature block")
    text, sigs = note[: split + 1], note[split + 2 :]
    ok = False
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise VerifyError("malformed signature line")
        name, _, b64 = line[2:].rpartition(" ")
        blob = base64.b64decode(b64, validate=True)
        if name == vkey.name and blob[:4] == vkey.key_id:
            if not ed25519_verify(vkey.public, text.encode(), blob[4:]):
                raise VerifyError("signature by %s does not verify" % vkey.name)
            ok = True
    if not ok:
        raise VerifyError("no signature by key %s+%s" % (vkey.name, vkey.key_id.hex()))
    return text


def open_checkpoint(note, vkey):
    lines = open_note(note, vkey).split("\n")
    origin, size, root = lines[0], lines[1], base64.b64decode(lines[2], validate=True)
    if origin != vkey.name:
        raise VerifyError("checkpoint origin %r is not the log %r" % (origin, vkey.name))
    if not size.isdigit() or (len(size) > 1 and size[0] == "0") or len(root) != 32:
        raise VerifyError("malformed checkpoint")
    return int(size), root


def parse_proof(text, header, number_prefix):
    lines = text.split("\n")
    if lines[0] != header:
        raise VerifyError("not a %s" % header)
    i = 1
    if lines[i].startswith("extra "):
        i += 1
    if not lines[i].startswith(number_prefix):
        raise VerifyError("missing %r line" % number_prefix.strip())
    number = int(lines[i][len(number_prefix):])
    i += 1
    hashes = []
    while lines[i] != "":
        hashes.append(base64.b64decode(lines[i], validate=True))
        i += 1
    return number, hashes, "\n".join(lines[i + 1 :])


# ---------------------------------------------------------------- DSSE / in-toto


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def verify_entry(data, vkey):
    env = json.loads(data)
    if env.get("payloadType") != "application/vnd.in-toto+json":
        raise VerifyError("payloadType is not in-toto")
    payload = base64.b64decode(env["payload"], validate=True)
    keyid = "%s+%s" % (vkey.name, vkey.key_id.hex())
    sigs = [s for s in env.get("signatures", []) if s.get("keyid") == keyid]
    if not sigs:
        raise VerifyError("no DSSE signature by the log key")
    if not ed25519_verify(vkey.public, pae(env["payloadType"], payload), base64.b64decode(sigs[0]["sig"], validate=True)):
        raise VerifyError("DSSE signature does not verify")
    statement = json.loads(payload)
    if statement.get("_type") != "https://in-toto.io/Statement/v1":
        raise VerifyError("payload is not an in-toto Statement v1")
    return statement


# ---------------------------------------------------------------- packages

ROOT = "countersign-evidence/"


def read_package(path):
    files = {}
    with tarfile.open(path, "r:") as tar:
        for member in tar.getmembers():
            name = member.name
            parts = name.split("/")
            if name.startswith("/") or ".." in parts or not name.startswith(ROOT):
                raise VerifyError("unsafe path in package: %r" % name)
            if member.isdir():
                continue
            if not member.isfile():
                raise VerifyError("%r is not a regular file" % name)
            rel = name[len(ROOT):]
            if rel in files:
                raise VerifyError("%s appears twice" % rel)
            files[rel] = tar.extractfile(member).read()  # read in memory; nothing is written
    return files


def verify_package(path, pinned=None):
    files = read_package(path)
    if "manifest.json" not in files or "manifest.sig" not in files or "log.vkey" not in files:
        raise VerifyError("manifest.json, manifest.sig or log.vkey is missing")
    vkey = pinned or Vkey(files["log.vkey"].decode())
    manifest_bytes = files["manifest.json"]
    signed = open_note(files["manifest.sig"].decode(), vkey)
    expected = "countersign.dev/evidence-package@v1\n%s\nsha256 %s\n" % (vkey.name, hashlib.sha256(manifest_bytes).hexdigest())
    if signed != expected:
        raise VerifyError("manifest.json was modified: its SHA-256 does not match manifest.sig")
    m = json.loads(manifest_bytes)
    if m.get("format") != "countersign.dev/evidence-package@v1" or m.get("vkey") != vkey.text:
        raise VerifyError("wrong package format or key")
    by_file = {}
    for e in m["entries"]:
        by_file[e["file"]] = by_file[e["proof"]] = e["index"]
    for name, digest in m["files"].items():
        if name not in files:
            raise VerifyError("%s is missing" % name)
        if hashlib.sha256(files[name]).hexdigest() != digest:
            raise VerifyError("%s was modified" % name, by_file.get(name))
    extra = set(files) - set(m["files"]) - {"manifest.json", "manifest.sig"}
    if extra:
        raise VerifyError("unlisted files: %s" % ", ".join(sorted(extra)))
    checkpoints = {name: (open_checkpoint(files[name].decode(), vkey), files[name].decode()) for name in m["checkpoints"]}
    (head_size, head_root), head_note = checkpoints[m["checkpoint"]]
    for name in m["consistency"]:
        old, hashes, note = parse_proof(files[name].decode(), "countersign.dev/consistency-proof@v1", "old ")
        if note != head_note:
            raise VerifyError("%s is not against the head checkpoint" % name)
        old_root = [c[0][1] for c in checkpoints.values() if c[0][0] == old]
        if not old_root:
            raise VerifyError("%s: no checkpoint of size %d" % (name, old))
        verify_consistency(old, head_size, old_root[0], head_root, hashes)
    statements = {}
    for e in m["entries"]:
        idx = e["index"]
        try:
            data = files[e["file"]]
            statements[idx] = verify_entry(data, vkey)
            pidx, hashes, note = parse_proof(files[e["proof"]].decode(), "c2sp.org/tlog-proof@v1", "index ")
            if pidx != idx or note != head_note:
                raise VerifyError("inclusion proof is for another entry or checkpoint")
            verify_inclusion(idx, head_size, leaf_hash(data), hashes, head_root)
        except VerifyError as err:
            raise VerifyError(err.args[0], idx)
    policy = m.get("policy")
    if policy:
        if hashlib.sha256(files[policy["file"]]).hexdigest() != policy["sha256"]:
            raise VerifyError("policy text does not match its digest", policy["entry"])
        st = statements.get(policy["entry"])
        if st is None or st["predicate"].get("sha256") != policy["sha256"]:
            raise VerifyError("policy entry does not log this policy", policy["entry"])
    return len(m["entries"]), head_size, vkey.text


# ---------------------------------------------------------------- self test


def selftest():
    # RFC 6962 vectors from github.com/transparency-dev/merkle testonly/constants.go.
    leaves = [bytes.fromhex(x) for x in ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]]
    roots = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
             "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
             "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4", "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
             "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c", "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]
    h = bytes.fromhex
    verify_inclusion(5, 8, leaf_hash(leaves[5]), [h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                     h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"), h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")], h(roots[7]))
    verify_consistency(6, 8, h(roots[5]), h(roots[7]), [h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                       h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"), h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7")])
    verify_consistency(2, 5, h(roots[1]), h(roots[4]), [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"), h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")])
    try:
        verify_consistency(2, 5, h(roots[2]), h(roots[4]), [h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"), h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b")])
        raise AssertionError("a wrong root verified")
    except VerifyError:
        pass
    # C2SP signed-note vector from golang.org/x/mod/sumdb/note (note_test.go).
    vkey = Vkey("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    text = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
    note = text + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    assert open_note(note, vkey) == text
    assert _ed25519_verify_pure(vkey.public, text.encode(), base64.b64decode("x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=")[4:])
    try:
        open_note(note.replace("cryptography", "cryptographY"), vkey)
        raise AssertionError("a tampered note verified")
    except VerifyError:
        pass
    # DSSE PAE example from the DSSE protocol spec.
    assert pae("http://example.com/HelloWorld", b"hello world") == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    print("selftest ok")


def main(argv):
    try:
        if argv[:1] == ["selftest"]:
            selftest()
            return 0
        vkey = None
        if "--vkey" in argv:
            i = argv.index("--vkey")
            vkey = Vkey(argv[i + 1])
            argv = argv[:i] + argv[i + 2:]
        if len(argv) == 2 and argv[0] == "package":
            entries, size, key = verify_package(argv[1], vkey)
            print("package verified: %d entries, log size %d, key %s" % (entries, size, key))
            if vkey is None:
                print("note: compare the key above with the log's published key (or pass --vkey)", file=sys.stderr)
            return 0
        if len(argv) == 3 and argv[0] == "proof" and vkey:
            with open(argv[1]) as f:
                index, hashes, note = parse_proof(f.read(), "c2sp.org/tlog-proof@v1", "index ")
            with open(argv[2], "rb") as f:
                data = f.read()
            verify_entry(data, vkey)
            size, root = open_checkpoint(note, vkey)
            verify_inclusion(index, size, leaf_hash(data), hashes, root)
            print("entry %d is included in the log of size %d" % (index, size))
            return 0
    except VerifyError as err:
        print("verification FAILED: %s" % err)
        return 1
    except (OSError, ValueError, KeyError, IndexError, tarfile.TarError) as err:
        print("cannot verify: %s" % err, file=sys.stderr)
        return 2
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
