#!/usr/bin/env python3
"""Independent verifier for countersign evidence packages and log proofs.

Written from the specifications alone, not from countersign's Rust code:
  - RFC 6962 / RFC 9162 Merkle hashing and proof verification (sections 2.1.3.2, 2.1.4.2)
  - C2SP signed-note (https://c2sp.org/signed-note), tlog-checkpoint, tlog-proof
  - DSSE v1 (PAE) and in-toto Statement v1
  - Ed25519 (RFC 8032): the `cryptography` package if importable, else the pure-Python
    verification below (RFC 8032 section 5.1.7); set COUNTERSIGN_VERIFY_PURE=1 to force it.
  - POSIX ustar / pax and GNU tar headers (the archive is read by the code below, one
    header at a time, never with tarfile), and the package layout in docs/evidence-log.md

Usage:
  verify_log.py package FILE [--vkey VKEY] [--trusted CHECKPOINT_FILE]...
  verify_log.py proof PROOF_FILE ENTRY_FILE --vkey VKEY
  verify_log.py selftest

Exit codes: 0 verified, 1 verification failed, 2 usage or unreadable input.
Only the standard library is required.
"""

import base64
import binascii
import hashlib
import json
import os
import stat
import sys

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


# ---------------------------------------------------------------- errors


class VerifyError(Exception):
    """The input was read and does not verify (exit 1)."""

    def __init__(self, message, entry=None):
        super().__init__(message)
        self.entry = entry

    def __str__(self):
        prefix = "" if self.entry is None else "entry %d: " % self.entry
        return prefix + self.args[0]


class Unreadable(Exception):
    """The input could not be read at all (exit 2)."""


U64_MAX = 2**64 - 1


def b64(text, what):
    """Standard base64 with canonical padding, as RFC 4648 section 4 writes it."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise VerifyError("%s is not base64" % what) from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise VerifyError("%s is not base64" % what)
    return raw


def is_control(c):
    o = ord(c)
    return o < 0x20 or 0x7F <= o <= 0x9F


def decimal(text):
    """A decimal without leading zeros that fits in 64 bits, else None."""
    if not text or any(c not in "0123456789" for c in text) or (len(text) > 1 and text[0] == "0"):
        return None
    n = int(text)
    return n if n <= U64_MAX else None


def utf8(data, what):
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise VerifyError("%s is not UTF-8" % what) from None


# ---------------------------------------------------------------- RFC 6962 / 9162


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
            raise VerifyError("malformed key: expected name+keyid+key")
        name, id_hex, key_b64 = parts
        if not name or any(c.isspace() or c == "+" for c in name):
            raise VerifyError("key name %r must be non-empty and contain no spaces or '+'" % name)
        raw = b64(key_b64, "the key")
        if len(raw) != 33 or raw[0] != 1:
            raise VerifyError("malformed key: not an Ed25519 key")
        if _decompress(raw[1:]) is None:
            raise VerifyError("malformed key: invalid Ed25519 point")
        self.name = name
        self.public = raw[1:]
        self.key_id = hashlib.sha256(name.encode() + b"\n\x01" + self.public).digest()[:4]
        if len(id_hex) != 8 or any(c not in "0123456789abcdefABCDEF" for c in id_hex) or int(id_hex, 16) != int.from_bytes(self.key_id, "big"):
            raise VerifyError("malformed key: key id does not match the key")
        self.text = "%s+%s+%s" % (name, self.key_id.hex(), base64.b64encode(raw).decode("ascii"))


def open_note(note, vkey):
    """Return the note text if `vkey` signed it (C2SP signed-note). Signatures by other
    keys are ignored; a bad signature by this key rejects the note."""
    if any(is_control(c) and c != "\n" for c in note):
        raise VerifyError("malformed signed note: control characters")
    if not note.endswith("\n"):
        raise VerifyError("malformed signed note: must end with a newline")
    split = note.rfind("\n\n")
    if split < 0:
        raise VerifyError("malformed signed note: no blank line before the signatures")
    text, sigs = note[: split + 1], note[split + 2 :]
    if not sigs:
        raise VerifyError("malformed signed note: no signature lines")
    lines = sigs.split("\n")
    if lines[-1] == "":
        lines.pop()
    ok = False
    for line in lines:
        if not line.startswith("\u2014 "):
            raise VerifyError("malformed signed note: signature line must start with an em dash")
        rest = line[2:]
        if " " not in rest:
            raise VerifyError("malformed signed note: signature line needs a name and a signature")
        name, _, sig64 = rest.rpartition(" ")
        blob = b64(sig64, "a note signature")
        if len(blob) < 4:
            raise VerifyError("malformed signed note: signature too short")
        if name == vkey.name and blob[:4] == vkey.key_id:
            if not ed25519_verify(vkey.public, text.encode(), blob[4:]):
                raise VerifyError("signature by key %s+%s does not verify" % (vkey.name, vkey.key_id.hex()))
            ok = True
    if not ok:
        raise VerifyError("no signature by key %s+%s" % (vkey.name, vkey.key_id.hex()))
    return text


def open_checkpoint(note, vkey):
    """(size, root) of a checkpoint signed by `vkey` whose origin is the key's name."""
    lines = open_note(note, vkey).split("\n")
    origin = lines[0]
    if not origin:
        raise VerifyError("malformed checkpoint: missing origin")
    size = decimal(lines[1])
    if size is None:
        raise VerifyError("malformed checkpoint: size is not a decimal without leading zeros")
    if len(lines) < 3:
        raise VerifyError("malformed checkpoint: missing root hash")
    root = b64(lines[2], "the checkpoint's root hash")
    if len(root) != 32:
        raise VerifyError("malformed checkpoint: root hash is not 32 bytes")
    if origin != vkey.name:
        raise VerifyError("checkpoint origin %r is not the log %r" % (origin, vkey.name))
    return size, root


def _proof_hashes(lines):
    hashes = []
    for line in lines:
        if line == "":
            return hashes
        h = b64(line, "a proof hash")
        if len(h) != 32:
            raise VerifyError("malformed proof: hash is not 32 bytes")
        hashes.append(h)
    raise VerifyError("malformed proof: missing blank line before the checkpoint")


def parse_tlog_proof(text):
    """C2SP tlog-proof: (index, hashes, signed checkpoint)."""
    lines = iter(text.split("\n"))
    if next(lines, None) != "c2sp.org/tlog-proof@v1":
        raise VerifyError("malformed proof: first line is not c2sp.org/tlog-proof@v1")
    line = next(lines, None)
    if line is None:
        raise VerifyError("malformed proof: truncated")
    if line.startswith("extra "):
        b64(line[len("extra "):], "the proof's extra data")
        line = next(lines, None)
        if line is None:
            raise VerifyError("malformed proof: truncated")
    if not line.startswith("index "):
        raise VerifyError("malformed proof: missing index line")
    index = decimal(line[len("index "):])
    if index is None:
        raise VerifyError("malformed proof: index is not a decimal without leading zeros")
    hashes = _proof_hashes(lines)
    return index, hashes, "\n".join(lines)


def parse_consistency_proof(text):
    """countersign.dev/consistency-proof@v1: (old size, hashes, newer signed checkpoint)."""
    lines = iter(text.split("\n"))
    if next(lines, None) != "countersign.dev/consistency-proof@v1":
        raise VerifyError("malformed proof: first line is not countersign.dev/consistency-proof@v1")
    line = next(lines, None)
    if line is None or not line.startswith("old "):
        raise VerifyError("malformed proof: missing old line")
    old = decimal(line[len("old "):])
    if old is None:
        raise VerifyError("malformed proof: old size is not a decimal without leading zeros")
    hashes = _proof_hashes(lines)
    return old, hashes, "\n".join(lines)


# ---------------------------------------------------------------- JSON with checked types


class _Object(dict):
    """A JSON object that remembers which keys appeared more than once."""


def _pairs(pairs):
    obj = _Object()
    obj.dups = set()
    for key, value in pairs:
        if key in obj:
            obj.dups.add(key)
        obj[key] = value
    return obj


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)


def _no_surrogates(value):
    """Lone surrogates (\\ud800 escapes) are not Unicode text."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            if any(0xD800 <= ord(c) <= 0xDFFF for c in v):
                return False
        elif isinstance(v, dict):
            stack.extend(v.keys())
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return True


def _float(text):
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError("number out of range")
    return value


def depth(value):
    """How deeply arrays and objects nest in `value` (a scalar: 0)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (list, dict)):
            deepest = max(deepest, d)
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def load_json(data, what):
    """Parse JSON from bytes: UTF-8 only, no NaN/Infinity or out-of-range numbers, no lone
    surrogates."""
    try:
        text = data.decode("utf-8")
        value = json.loads(text, object_pairs_hook=_pairs, parse_constant=_no_constant, parse_int=_int, parse_float=_float)
    except (ValueError, RecursionError) as err:
        raise VerifyError("%s: %s" % (what, err)) from None
    if not _no_surrogates(value):
        raise VerifyError("%s: lone surrogate in a string" % what)
    return value


def _int(text):
    # A signed number is never an unsigned integer ("-0" included); an integer too large
    # for a float is out of range, as in a typed JSON parser.
    n = _float(text) if text.startswith("-") else int(text)
    if type(n) is int and n > U64_MAX:
        try:
            float(n)
        except OverflowError:
            raise ValueError("number out of range") from None
    return n


def is_u64(v):
    return type(v) is int and 0 <= v <= U64_MAX


def is_str(v):
    return type(v) is str


def struct(value, what, fields, optional=(), deny_unknown=True, seq_ok=False):
    """Check a JSON object against a struct: every field present once, no unknown field
    (when `deny_unknown`). `fields`/`optional` map names to checks (None: any value), in
    the struct's field order. With `seq_ok`, the struct may also be written as an array of
    exactly its field values, in that order (serde's other form of a struct, which
    countersign accepts for entries). Returns the object."""
    known = dict(fields)
    known.update(optional)
    if seq_ok and type(value) is list:
        if len(value) != len(known):
            raise VerifyError("%s: an array of %d values, expected %d" % (what, len(value), len(known)))
        value = dict(zip(known, value))
    if not isinstance(value, dict):
        raise VerifyError("%s is not a JSON object" % what)
    dups = getattr(value, "dups", set()) & set(known)
    if dups:
        raise VerifyError("%s: duplicate field %s" % (what, sorted(dups)[0]))
    if deny_unknown:
        unknown = sorted(set(value) - set(known))
        if unknown:
            raise VerifyError("%s: unknown field %s" % (what, unknown[0]))
    for name in fields:
        if name not in value:
            raise VerifyError("%s: missing field %s" % (what, name))
    for name, check in known.items():
        if name in value and check is not None and not check(value[name]):
            raise VerifyError("%s: field %s has the wrong type" % (what, name))
    return value


def list_of(check):
    return lambda v: type(v) is list and all(check(x) for x in v)


def map_of(check):
    return lambda v: isinstance(v, dict) and all(is_str(k) and check(x) for k, x in v.items())


# ---------------------------------------------------------------- DSSE / in-toto

PAYLOAD_TYPE = "application/vnd.in-toto+json"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"


def pae(payload_type, payload):
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)


def verify_entry(data, vkey):
    """Check a DSSE envelope's signature by `vkey`; return its in-toto Statement."""
    what = "entry is not a DSSE envelope"
    env = load_json(data, what)
    env = struct(env, what, {"payload": is_str, "payloadType": is_str, "signatures": lambda v: type(v) is list}, deny_unknown=False, seq_ok=True)
    signatures = [struct(s, what, {"keyid": is_str, "sig": is_str}, deny_unknown=False, seq_ok=True) for s in env["signatures"]]
    if env["payloadType"] != PAYLOAD_TYPE:
        raise VerifyError("payloadType is %r, expected %r" % (env["payloadType"], PAYLOAD_TYPE))
    payload = b64(env["payload"], "payload")
    keyid = "%s+%s" % (vkey.name, vkey.key_id.hex())
    sigs = [s for s in signatures if s["keyid"] == keyid]
    if not sigs:
        raise VerifyError("no DSSE signature by the log key %s" % keyid)
    sig = b64(sigs[0]["sig"], "signature")
    if len(sig) != 64:
        raise VerifyError("signature is malformed")
    if not ed25519_verify(vkey.public, pae(env["payloadType"], payload), sig):
        raise VerifyError("DSSE signature does not verify")
    what = "payload is not an in-toto Statement v1"
    statement = load_json(payload, what)
    statement = struct(statement, what, {"_type": is_str, "subject": lambda v: type(v) is list, "predicateType": is_str, "predicate": None}, deny_unknown=False, seq_ok=True)
    for subject in statement["subject"]:
        struct(subject, what, {"name": is_str, "digest": map_of(is_str)}, deny_unknown=False, seq_ok=True)
    # A JSON parser for typed data limits nesting; the statement is one level, its
    # predicate may use the rest (127 in all).
    if 1 + depth(statement["predicate"]) > 127:
        raise VerifyError("%s: nested too deeply" % what)
    if statement["_type"] != STATEMENT_TYPE:
        raise VerifyError("%s: _type is %r" % (what, statement["_type"]))
    return statement


# ---------------------------------------------------------------- tar, read as a stream

ROOT = "countersign-evidence"
# Limits (the same in countersign's Rust verifier, crates/countersign-store/src/package.rs).
MAX_FILE_BYTES = 1024 * 1024  # an entry, proof, checkpoint, consistency proof, log.vkey, manifest.sig
MAX_MANIFEST_BYTES = 32 * 1024 * 1024  # manifest.json
MAX_POLICY_BYTES = 16 * 1024 * 1024  # policy/*.txt
MAX_ATTACHMENT_BYTES = 32 * 1024 * 1024  # attachments/* (a webhook body is at most 25 MB)
MAX_TOTAL_BYTES = 512 * 1024 * 1024  # all files together
MAX_MEMBERS = 250000  # files and directories
MAX_EXTENSION_BYTES = 64 * 1024  # one pax header or GNU long name
MAX_GLOBAL_HEADERS = 16
MAX_TRUSTED_BYTES = 64 * 1024  # one --trusted checkpoint file
BLOCK = 512


def file_limit(name):
    if name == "manifest.json":
        return MAX_MANIFEST_BYTES
    if name.startswith("policy/"):
        return MAX_POLICY_BYTES
    if name.startswith("attachments/"):
        return MAX_ATTACHMENT_BYTES
    return MAX_FILE_BYTES


class TarStream:
    def __init__(self, f):
        self.f = f
        self.offset = 0

    def fill(self, n, end_ok=False):
        """Exactly n bytes, or None if the stream ends before the first one and `end_ok`."""
        parts, got = [], 0
        while got < n:
            chunk = self.f.read(min(n - got, 65536))
            if not chunk:
                if got == 0 and end_ok:
                    return None
                raise VerifyError("the archive is truncated at byte %d" % (self.offset + got))
            parts.append(chunk)
            got += len(chunk)
        self.offset += n
        return b"".join(parts)

    def data(self, size):
        """A member's data (the caller checked `size` against its limit), hashed as it
        streams, then the padding to the next block."""
        h = hashlib.sha256()
        parts, left = [], size
        while left:
            chunk = self.fill(min(left, 65536))
            h.update(chunk)
            parts.append(chunk)
            left -= len(chunk)
        self.fill((BLOCK - size % BLOCK) % BLOCK)
        return b"".join(parts), h.hexdigest()


def _cstr(field):
    end = field.find(b"\0")
    return field if end < 0 else field[:end]


def _numeric(field):
    """Octal text (NUL/space terminated, space padded) or GNU base-256 (first byte 0x80)."""
    if field[0] == 0x80:
        n = int.from_bytes(field[1:], "big")
        return n if n <= U64_MAX else None
    if field[0] & 0x80:
        return None
    text = _cstr(field).strip(b" ")
    if any(c not in b"01234567" for c in text):
        return None
    n = int(text, 8) if text else 0
    return n if n <= U64_MAX else None


def _checksum_ok(block):
    """The header checksum: the sum of its bytes, the checksum field read as spaces (as
    unsigned bytes, or as signed bytes as some old tars wrote it)."""
    stored = _numeric(block[148:156])
    if stored is None:
        return False
    rest = block[:148] + block[156:]
    unsigned = sum(rest) + 8 * 32
    if stored == unsigned:
        return True
    signed = unsigned - 256 * sum(1 for b in rest if b > 127)
    return signed >= 0 and stored == signed


def _decimal_bytes(text):
    if not text or any(c not in b"0123456789" for c in text):
        return None
    n = int(text)
    return n if n <= U64_MAX else None


def _parse_pax(data):
    """pax records `<length> <key>=<value>\\n`; trailing NUL padding allowed."""
    pax = {"path": None, "size": None, "sparse": False}
    rest = data
    while rest and rest.strip(b"\0"):
        space = rest.find(b" ")
        if space < 0:
            return None
        length = _decimal_bytes(rest[:space])
        if length is None or length <= space + 1 or length > len(rest):
            return None
        record = rest[space + 1 : length]
        if not record.endswith(b"\n"):
            return None
        record = record[:-1]
        eq = record.find(b"=")
        if eq < 0:
            return None
        key, value = record[:eq], record[eq + 1 :]
        if key == b"path":
            pax["path"] = value
        elif key == b"size":
            pax["size"] = _decimal_bytes(value)
            if pax["size"] is None:
                return None
        elif key.startswith(b"GNU.sparse."):
            pax["sparse"] = True
        rest = rest[length:]
    return pax


_TYPE_NAMES = {
    b"1": "a hard link", b"2": "a symbolic link", b"3": "a character device", b"4": "a block device",
    b"6": "a FIFO", b"7": "a contiguous file", b"S": "a GNU sparse file", b"D": "a GNU dump directory",
    b"V": "a volume label", b"M": "a multi-volume continuation",
}


def _place(name):
    """None for the package root itself, else the path inside it."""
    if name.startswith("/") or "\\" in name or any(is_control(c) for c in name):
        raise VerifyError("unsafe path in package: %r" % name)
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise VerifyError("unsafe path in package: %r" % name)
    if not parts:
        return None
    if parts[0] != ROOT:
        raise VerifyError("%r is outside %s/" % (name, ROOT))
    return "/".join(parts[1:]) or None


def read_members(f):
    """Stream the archive: each header (checksum, path, type, declared size against the
    limits) is checked before its data is read. Returns {path: (data, sha256 hex)}."""
    tar = TarStream(f)
    files = {}
    total = members = globals_ = 0
    pax = long_name = None
    long_link = False
    while True:
        at = tar.offset
        pending = pax is not None or long_name is not None or long_link
        block = tar.fill(BLOCK, end_ok=not pending)
        if block is None:
            break
        if block == bytes(BLOCK):
            if pending:
                raise VerifyError("the archive ends after an extended header")
            break
        if not _checksum_ok(block):
            raise VerifyError("not a valid tar archive: bad header checksum at byte %d" % at)
        typeflag = block[156:157]
        header_size = _numeric(block[124:136])
        if header_size is None:
            raise VerifyError("malformed size field in the header at byte %d" % at)
        if typeflag in (b"x", b"g", b"L", b"K"):
            if header_size > MAX_EXTENSION_BYTES:
                raise VerifyError("an extended header at byte %d declares %d bytes, more than the %d allowed (refused before reading it)" % (at, header_size, MAX_EXTENSION_BYTES))
            data, _ = tar.data(header_size)
            if typeflag == b"x":
                if pax is not None:
                    raise VerifyError("two pax headers for one member at byte %d" % at)
                pax = _parse_pax(data)
                if pax is None:
                    raise VerifyError("malformed pax header at byte %d" % at)
            elif typeflag == b"g":
                globals_ += 1
                if globals_ > MAX_GLOBAL_HEADERS:
                    raise VerifyError("more than %d pax global headers" % MAX_GLOBAL_HEADERS)
                if _parse_pax(data) is None:
                    raise VerifyError("malformed pax header at byte %d" % at)
            elif typeflag == b"L":
                if long_name is not None:
                    raise VerifyError("two long names for one member at byte %d" % at)
                long_name = _cstr(data)
            else:
                if long_link:
                    raise VerifyError("two long link names for one member at byte %d" % at)
                long_link = True
            continue
        this_pax = pax or {"path": None, "size": None, "sparse": False}
        this_long = long_name
        pax = long_name = None
        long_link = False
        members += 1
        if members > MAX_MEMBERS:
            raise VerifyError("the archive has more than %d members" % MAX_MEMBERS)
        if this_pax["path"] is not None:
            raw = this_pax["path"]
        elif this_long is not None:
            raw = this_long
        else:
            raw = _cstr(block[0:100])
            prefix = _cstr(block[345:500])
            if block[257:263] == b"ustar\0" and prefix:
                raw = prefix + b"/" + raw
        try:
            name = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise VerifyError("the name of the member at byte %d is not UTF-8" % at) from None
        size = header_size if this_pax["size"] is None else this_pax["size"]
        rel = _place(name)
        if typeflag == b"5" or (typeflag == b"\0" and name.endswith("/")):
            if size != 0:
                raise VerifyError("%r is a directory with %d bytes of data" % (name, size))
            continue
        if this_pax["sparse"]:
            raise VerifyError("%r is a sparse file, not a regular file" % name)
        if typeflag not in (b"0", b"\0"):
            kind = _TYPE_NAMES.get(typeflag, "of tar type %r" % typeflag.decode("latin-1"))
            raise VerifyError("%r is %s, not a regular file" % (name, kind))
        if rel is None:
            raise VerifyError("%r is not a file inside %s/" % (name, ROOT))
        limit = file_limit(rel)
        if size > limit:
            raise VerifyError("%s declares %d bytes, more than the %d bytes allowed for it (refused before reading it)" % (rel, size, limit))
        total += size
        if total > MAX_TOTAL_BYTES:
            raise VerifyError("the package holds more than %d bytes of files" % MAX_TOTAL_BYTES)
        if rel in files:
            raise VerifyError("%s appears twice" % rel)
        files[rel] = tar.data(size)
    return files


def open_regular(path, what):
    """Open a regular file for reading; a FIFO, device or directory is refused unread."""
    try:
        st = os.stat(path)
    except OSError as err:
        raise Unreadable("cannot read %s %s: %s" % (what, path, err.strerror or err)) from None
    if not stat.S_ISREG(st.st_mode):
        raise Unreadable("%s %s is not a regular file (a FIFO, device or directory is never read)" % (what, path))
    try:
        f = open(path, "rb")
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            f.close()
            raise Unreadable("%s %s is not a regular file" % (what, path))
    except OSError as err:
        raise Unreadable("cannot read %s %s: %s" % (what, path, err.strerror or err)) from None
    return f


def read_small_text(path, what, limit):
    with open_regular(path, what) as f:
        try:
            data = f.read(limit + 1)
        except OSError as err:
            raise Unreadable("cannot read %s %s: %s" % (what, path, err.strerror or err)) from None
    if len(data) > limit:
        raise Unreadable("%s %s is larger than the limit of %d bytes" % (what, path, limit))
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise Unreadable("%s %s is not UTF-8" % (what, path)) from None


# ---------------------------------------------------------------- packages

PACKAGE_FORMAT = "countersign.dev/evidence-package@v1"

_ENTRY = {"index": is_u64, "kind": is_str, "file": is_str, "proof": is_str}
_POLICY = {"version": is_str, "sha256": is_str, "file": is_str, "entry": is_u64}
_ATTACHMENT = {"entry": is_u64, "kind": is_str, "sha256": is_str, "file": is_str}


def _attachment_ok(v):
    struct(v, "manifest.json: an attachment", _ATTACHMENT)
    return True


def _entry_ok(v):
    struct(v, "manifest.json: an entry", _ENTRY)
    return True


def _gap_ok(v):
    return type(v) is list and len(v) == 2 and is_u64(v[0]) and is_u64(v[1])


def parse_manifest(data):
    m = load_json(data, "manifest.json")
    struct(m, "manifest.json", {
        "format": is_str, "origin": is_str, "vkey": is_str, "since": is_str, "until": is_str,
        "checkpoint": is_str, "checkpoints": list_of(is_str), "consistency": list_of(is_str),
        "entries": lambda v: type(v) is list and all(_entry_ok(e) for e in v),
        "files": map_of(is_str),
    }, optional={"policy": None, "policies": lambda v: type(v) is list, "gaps": list_of(_gap_ok),
                 "attachments": lambda v: type(v) is list and all(_attachment_ok(a) for a in v)})
    policy = m.get("policy")
    if policy is not None:
        struct(policy, "manifest.json: policy", _POLICY)
    for p in m.get("policies", []):
        struct(p, "manifest.json: policies", _POLICY)
    return m


def _fork(size, a, b):
    return VerifyError("fork: two signed checkpoints of size %d with different roots %s and %s" % (size, a.hex(), b.hex()))


def _text(files, name):
    if name not in files:
        raise VerifyError("%s is missing" % name)
    return utf8(files[name][0], name)


def describe_gaps(gaps):
    return ", ".join(str(a) if a == b else "%d-%d" % (a, b) for a, b in gaps)


def verify_package(path, pinned=None, trusted=()):
    """Verify a package file; returns (entries, log size, vkey text, gaps, trusted count)."""
    with open_regular(path, "package") as f:
        files = read_members(f)
    return verify_files(files, pinned, trusted)


def verify_files(files, pinned, trusted):
    if "manifest.json" not in files:
        raise VerifyError("manifest.json is missing")
    manifest_bytes = files["manifest.json"][0]
    package_vkey = _text(files, "log.vkey").strip()
    if pinned is not None:
        vkey = pinned
    else:
        try:
            vkey = Vkey(package_vkey)
        except VerifyError as err:
            raise VerifyError("log.vkey: %s" % err) from None
    # 1. The manifest is signed by the log key.
    try:
        signed = open_note(_text(files, "manifest.sig"), vkey)
    except VerifyError as err:
        raise VerifyError("manifest.sig: %s" % err) from None
    expected = "%s\n%s\nsha256 %s\n" % (PACKAGE_FORMAT, vkey.name, hashlib.sha256(manifest_bytes).hexdigest())
    if signed != expected:
        raise VerifyError("manifest.json was modified: its SHA-256 does not match the signed manifest.sig")
    m = parse_manifest(manifest_bytes)
    if m["format"] != PACKAGE_FORMAT:
        raise VerifyError("unknown package format %r" % m["format"])
    if m["vkey"] != vkey.text or package_vkey != vkey.text:
        raise VerifyError("the package's key is not the trusted log key")
    # 2. Every file is listed with its digest, and nothing unlisted is present.
    for name, digest in sorted(m["files"].items()):
        if name not in files:
            raise VerifyError("%s is listed in the manifest but missing" % name)
        if files[name][1] != digest:
            entry = next((e["index"] for e in m["entries"] if name in (e["file"], e["proof"])), None)
            raise VerifyError("%s was modified: its SHA-256 does not match the manifest" % name, entry)
    extra = sorted(set(files) - set(m["files"]) - {"manifest.json", "manifest.sig"})
    if extra:
        raise VerifyError("%s is not listed in the manifest" % extra[0])
    # 3. Checkpoints are signed by the log key; two of one size must agree.
    checkpoints, roots = {}, {}
    for name in m["checkpoints"]:
        note = _text(files, name)
        try:
            size, root = open_checkpoint(note, vkey)
        except VerifyError as err:
            raise VerifyError("%s: %s" % (name, err)) from None
        if size in roots and roots[size] != root:
            raise _fork(size, roots[size], root)
        roots[size] = root
        checkpoints[name] = (size, root, note)
    if m["checkpoint"] not in checkpoints:
        raise VerifyError("the head checkpoint is not in the package")
    head_size, head_root, head_note = checkpoints[m["checkpoint"]]
    # 4. Consistency of the older checkpoints with the head; each one needs a proof.
    proven = {}
    for name in m["consistency"]:
        try:
            old, hashes, note = parse_consistency_proof(_text(files, name))
        except VerifyError as err:
            raise VerifyError("%s: %s" % (name, err)) from None
        if note != head_note:
            raise VerifyError("%s is not against the head checkpoint" % name)
        if old not in roots:
            raise VerifyError("%s: no checkpoint of size %d" % (name, old))
        try:
            verify_consistency(old, head_size, roots[old], head_root, hashes)
        except VerifyError as err:
            raise VerifyError("%s: checkpoint %d is not consistent with checkpoint %d: %s" % (name, old, head_size, err)) from None
        proven[old] = hashes
    for size in sorted(roots):
        if size != head_size and size not in proven:
            raise VerifyError("the checkpoint of size %d has no consistency proof to the head" % size)
    # 5. Checkpoints the auditor trusts: the head extends each of them.
    for i, note in enumerate(trusted):
        try:
            size, root = open_checkpoint(note, vkey)
        except VerifyError as err:
            raise VerifyError("trusted checkpoint %d: %s" % (i + 1, err)) from None
        if size > head_size:
            raise VerifyError("rolled back: the log is smaller than a checkpoint you trusted (size %d > %d)" % (size, head_size))
        if size in roots and roots[size] != root:
            raise _fork(size, root, roots[size])
        if size == 0:
            empty = hashlib.sha256(b"").digest()
            if root != empty:
                raise _fork(0, root, empty)
            continue
        if size < head_size:
            if size not in proven:
                raise VerifyError("the package has no consistency proof from the checkpoint of size %d you trusted to its head (size %d); export it with --consistency-from %d" % (size, head_size, size))
            try:
                verify_consistency(size, head_size, root, head_root, proven[size])
            except VerifyError as err:
                raise VerifyError("the checkpoint of size %d you trusted is not consistent with the package's head (size %d): %s" % (size, head_size, err)) from None
    # 6. Every entry: signature, statement, inclusion in the head checkpoint.
    statements = {}
    for e in m["entries"]:
        idx = e["index"]
        if idx in statements:
            raise VerifyError("listed twice in the manifest", idx)
        try:
            if e["file"] not in files:
                raise VerifyError("%s is missing" % e["file"])
            data = files[e["file"]][0]
            statement = verify_entry(data, vkey)
            pidx, hashes, note = parse_tlog_proof(_text(files, e["proof"]))
            if pidx != idx:
                raise VerifyError("%s is a proof for entry %d" % (e["proof"], pidx))
            if note != head_note:
                raise VerifyError("inclusion proof is not against the head checkpoint")
            try:
                verify_inclusion(idx, head_size, leaf_hash(data), hashes, head_root)
            except VerifyError as err:
                raise VerifyError("not included in the log: %s" % err) from None
        except VerifyError as err:
            raise VerifyError(err.args[0], idx) from None
        statements[idx] = statement
    # 7. Each policy text is the one logged; the one in force at the end is the last.
    policies = m.get("policies", [])
    if policies and policies[-1] != m.get("policy"):
        raise VerifyError("manifest.json: `policy` is not the last of `policies`")
    for policy in ([m["policy"]] if m.get("policy") is not None else []) + policies:
        if policy["file"] not in files:
            raise VerifyError("%s is missing" % policy["file"])
        if files[policy["file"]][1] != policy["sha256"]:
            raise VerifyError("the policy text does not match its logged digest", policy["entry"])
        st = statements.get(policy["entry"])
        if st is None:
            raise VerifyError("the policy's log entry is not in the package", policy["entry"])
        predicate = st["predicate"]
        if not isinstance(predicate, dict) or predicate.get("sha256") != policy["sha256"]:
            raise VerifyError("the policy's log entry names another digest", policy["entry"])
    # 8. Each attachment is the file its entry logs the digest of.
    for a in m.get("attachments", []):
        if a["file"] not in files:
            raise VerifyError("%s is missing" % a["file"], a["entry"])
        if files[a["file"]][1] != a["sha256"]:
            raise VerifyError("%s does not match its logged digest" % a["file"], a["entry"])
        st = statements.get(a["entry"])
        if st is None:
            raise VerifyError("the log entry of %s is not in the package" % a["file"], a["entry"])
        kind = st["predicateType"]
        if kind.startswith("https://countersign.dev/evidence/"):
            kind = kind[len("https://countersign.dev/evidence/"):]
        if kind.endswith("/v1"):
            kind = kind[:-3]
        predicate = st["predicate"]
        if kind != a["kind"] or not isinstance(predicate, dict) or predicate.get("sha256") != a["sha256"]:
            raise VerifyError("the log entry of %s is not a %s entry naming its digest" % (a["file"], a["kind"]), a["entry"])
    # 9. Gaps are well-formed ranges of indices the package does not hold.
    gaps = [tuple(g) for g in m.get("gaps", [])]
    after = None
    for first, last in gaps:
        if first > last or (after is not None and first <= after):
            raise VerifyError("manifest.json: gaps are not ascending, disjoint ranges")
        inside = sorted(i for i in statements if first <= i <= last)
        if inside:
            raise VerifyError("listed as missing (gap %d-%d) but in the package" % (first, last), inside[0])
        after = last
    return len(m["entries"]), head_size, vkey.text, gaps, len(trusted)


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
        if argv == ["selftest"]:
            selftest()
            return 0
        vkey, trusted_files, args = None, [], []
        i = 0
        while i < len(argv):
            if argv[i] in ("--vkey", "--trusted"):
                if i + 1 >= len(argv):
                    raise Unreadable("%s needs a value" % argv[i])
                if argv[i] == "--vkey":
                    try:
                        vkey = Vkey(argv[i + 1])
                    except VerifyError as err:
                        raise Unreadable("--vkey is not a valid public key: %s" % err) from None
                else:
                    trusted_files.append(argv[i + 1])
                i += 2
            else:
                args.append(argv[i])
                i += 1
        if len(args) == 2 and args[0] == "package":
            trusted = [read_small_text(p, "trusted checkpoint", MAX_TRUSTED_BYTES) for p in trusted_files]
            entries, size, key, gaps, checked = verify_package(args[1], vkey, trusted)
            print("package verified: %d entries, log size %d, key %s" % (entries, size, key))
            if checked:
                print("the log extends the %d checkpoint(s) you trusted" % checked)
            if gaps:
                one = len(gaps) == 1 and gaps[0][0] == gaps[0][1]
                print("warning: log %s %s %s between the first and last entry of the period but %s not in this package (recorded with a time outside the period)"
                      % ("entry" if one else "entries", describe_gaps(gaps), "lies" if one else "lie", "is" if one else "are"), file=sys.stderr)
            if vkey is None:
                print("note: compare the key above with the log's published key (or pass --vkey)", file=sys.stderr)
            return 0
        if len(args) == 3 and args[0] == "proof" and vkey and not trusted_files:
            proof_text = read_small_text(args[1], "proof", MAX_FILE_BYTES)
            with open_regular(args[2], "entry") as f:
                data = f.read(MAX_FILE_BYTES + 1)
            if len(data) > MAX_FILE_BYTES:
                raise Unreadable("entry %s is larger than the limit of %d bytes" % (args[2], MAX_FILE_BYTES))
            index, hashes, note = parse_tlog_proof(proof_text)
            verify_entry(data, vkey)
            size, root = open_checkpoint(note, vkey)
            verify_inclusion(index, size, leaf_hash(data), hashes, root)
            print("entry %d is included in the log of size %d" % (index, size))
            return 0
    except VerifyError as err:
        print("verification FAILED: %s" % err)
        return 1
    except Unreadable as err:
        print("cannot verify: %s" % err, file=sys.stderr)
        return 2
    except OSError as err:
        print("cannot verify: %s" % err, file=sys.stderr)
        return 2
    except Exception as err:  # a bug here must still not print a traceback at an auditor
        print("verification FAILED: unexpected input (%s: %s)" % (type(err).__name__, err))
        return 1
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
