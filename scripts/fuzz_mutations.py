"""Dataset- and byte-level mutations for scripts/fuzz_corpus.py (test-time only, never used by dxkit).

Guarantees: every mutation is a pure function of (input, random.Random), so a corpus is a function of
its seed; each returns a short `detail` string saying exactly what it did (recorded in manifest.csv).
Dataset mutations edit a pydicom Dataset that is written afterwards; byte mutations edit the encoded
file (`data`, a bytearray). Values are written raw (validation off) so that they can be invalid.
"""
import struct

from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

config.settings.reading_validation_mode = config.IGNORE
config.settings.writing_validation_mode = config.IGNORE

LONG_LENGTH_VRS = {b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV"}
HOSTILE = ["../x", "../../../../tmp/dxkit-escape", "index.html", "dxkit.sqlite", "heatmaps", "report.html",
           "sr.dcm", ".", "..", "", "/", "/etc/passwd", "a/b\\c", "\x1b]0;pwned\x07", "\x1b[2J\x1b[H", "line1\nline2",
           "nul\x00byte", "<script>alert(1)</script>", "x" * 300, "CON", "\u202egnp.exe", "%s%n%x", "' OR 1=1 --"]
NUMBERS = ["nan", "NaN", "inf", "-inf", "1e400", "-1e400", "1e308", "-0", "99999999999999999999", "", " ", "1\\", "abc"]


def raw(ds, tag, vr, value):
    """Sets `tag` to `value` as written, bypassing pydicom's conversion (so "1e400" can be an IS)."""
    elem = DataElement(tag, vr, "0" if vr in ("IS", "DS") else b"" if vr.startswith("O") or vr == "UN" else "")
    if vr == "PN":
        elem.value = value  # PN takes any text; it must be a PersonName to be written
    elif isinstance(value, str) and vr not in ("IS", "DS"):  # written as UTF-8 bytes, padded to even length
        b = value.encode("utf-8")
        elem._value = b + (b"\0" if vr == "UI" else b" ") * (len(b) % 2)
    else:
        elem._value = value
    ds[tag] = elem


def rows_cols(ds, rng):
    r, c = rng.choice([0, 1, 65535, 65535, rng.randrange(2, 65535)]), rng.choice([0, 1, 65535, None])
    raw(ds, 0x00280010, "US", r)
    if c is not None:
        raw(ds, 0x00280011, "US", c)
    return f"Rows={r} Columns={c if c is not None else 'kept'}"


def bits(ds, rng):
    ba, bs, hb = rng.choice([(0, 0, 0), (7, 7, 6), (12, 12, 11), (33, 33, 32), (64, 64, 63), (8, 16, 15), (16, 17, 16),
                             (16, 12, 15), (16, 16, 40), (1, 8, 7), (32, 32, 31), (16, 0, 65535), (8, 8, 0)])
    for tag, v in ((0x00280100, ba), (0x00280101, bs), (0x00280102, hb)):
        raw(ds, tag, "US", v)
    return f"BitsAllocated={ba} BitsStored={bs} HighBit={hb}"


def samples(ds, rng):
    spp, pi = rng.choice([(0, None), (2, None), (3, "MONOCHROME2"), (3, "MONOCHROME1"), (1, "RGB"), (65535, None),
                          (4, "RGB"), (1, "YBR_FULL_422"), (3, "PALETTE COLOR")])
    raw(ds, 0x00280002, "US", spp)
    if pi:
        raw(ds, 0x00280004, "CS", pi)
    return f"SamplesPerPixel={spp} Photometric={pi or 'kept'}"


def frames(ds, rng):
    v = rng.choice(["0", "-1", "2147483647", "4294967296", "1e400", "nan", "", "2", "1000000"])
    raw(ds, 0x00280008, "IS", v)
    return f"NumberOfFrames={v!r}"


def photometric(ds, rng):
    v = rng.choice(["", "GARBAGE", "MONOCHROME3", "RGB\\RGB", "YBR_FULL_422", "YBR_ICT", "PALETTE COLOR", "A" * 64,
                    "\x00", "monochrome2", "HSV", "CMYK", "YBR_PARTIAL_420"])
    raw(ds, 0x00280004, "CS", v)
    return f"Photometric={v!r}"


def planar(ds, rng):
    v = rng.choice([2, 65535, 1, 0])
    raw(ds, 0x00280006, "US", v)
    if rng.random() < 0.5:
        raw(ds, 0x00280002, "US", 3)
        raw(ds, 0x00280004, "CS", "RGB")
    return f"PlanarConfiguration={v}"


def numeric(ds, rng):
    tags = {"RescaleSlope": (0x00281053, "DS"), "RescaleIntercept": (0x00281052, "DS"), "WindowCenter": (0x00281050, "DS"),
            "WindowWidth": (0x00281051, "DS"), "PixelSpacing": (0x00280030, "DS"), "ImagerPixelSpacing": (0x00181164, "DS"),
            "PatientAge": (0x00101010, "AS"), "PatientWeight": (0x00101030, "DS"), "SeriesNumber": (0x00200011, "IS"),
            "InstanceNumber": (0x00200013, "IS")}
    done = []
    for name in rng.sample(sorted(tags), rng.choice([1, 1, 2, 3])):
        tag, vr = tags[name]
        v = rng.choice(["infY", "nanY", "-1Y", "999Y", "1e400Y", "", "Y"]) if vr == "AS" else rng.choice(NUMBERS)
        if name == "PixelSpacing" and rng.random() < 0.5:
            v = v + "\\" + rng.choice(NUMBERS)
        raw(ds, tag, vr, v)
        done.append(f"{name}={v!r}")
    return " ".join(done)


WRONG_VR = [(0x00280010, "Rows", "DS", "-1e400"), (0x00280010, "Rows", "FD", -1e300), (0x00280010, "Rows", "OB", b"\x07"),
            (0x00280011, "Columns", "SL", -5), (0x00280100, "BitsAllocated", "SS", -1), (0x00280008, "NumberOfFrames", "US", 65535),
            (0x00280103, "PixelRepresentation", "UL", 4294967295), (0x00281053, "RescaleSlope", "FD", float("nan")),
            (0x00281050, "WindowCenter", "SQ", Sequence([Dataset()])), (0x00100020, "PatientID", "OB", b"\xff\xfe\x00ID"),
            (0x0020000D, "StudyInstanceUID", "US", 7), (0x00280002, "SamplesPerPixel", "DS", "nan"),
            (0x00280004, "PhotometricInterpretation", "SQ", Sequence([])), (0x00080018, "SOPInstanceUID", "FL", 1.5)]


def wrong_vr(ds, rng):
    tag, name, vr, value = rng.choice(WRONG_VR)
    raw(ds, tag, vr, value)
    return f"{name} as {vr} {value!r}"


MISSING = {"SOPInstanceUID": 0x00080018, "StudyInstanceUID": 0x0020000D, "SeriesInstanceUID": 0x0020000E,
           "PixelData": 0x7FE00010, "PatientID": 0x00100020, "Modality": 0x00080060, "SOPClassUID": 0x00080016,
           "Rows": 0x00280010, "PhotometricInterpretation": 0x00280004, "BitsAllocated": 0x00280100}


def missing(ds, rng):
    names = rng.sample(sorted(MISSING), rng.choice([1, 1, 1, 2]))
    for n in names:
        if MISSING[n] in ds:
            del ds[MISSING[n]]
    if rng.random() < 0.15 and 0x00020010 in getattr(ds, "file_meta", {}):
        del ds.file_meta[0x00020010]
        names.append("meta TransferSyntaxUID")
    return "without " + ",".join(names)


def _lut_item(rng, data_vr="OW"):
    n, first, nbits = rng.choice([0, 1, 65535, 4096, 2]), rng.choice([0, 32767, 65535]), rng.choice([0, 1, 8, 16, 33, 64])
    length = rng.choice([0, 2, 2 * (n or 65536), (n or 65536), 3])
    item = Dataset()
    raw(item, 0x00283002, "US", [n, first, nbits])
    raw(item, 0x00283006, data_vr, bytes(rng.randrange(256) for _ in range(min(length, 4096))) + bytes(max(0, length - 4096)))
    return item, f"[{n},{first},{nbits}] {length} bytes"


def lut(ds, rng):
    which = rng.choice(["modality", "voi", "palette"])
    if which == "palette":
        raw(ds, 0x00280004, "CS", "PALETTE COLOR")
        raw(ds, 0x00280002, "US", 1)
        n, nbits, length = rng.choice([0, 65535, 1, 256]), rng.choice([8, 16, 0, 33]), rng.choice([0, 2, 512, 131072, 7])
        for i in range(3):
            raw(ds, 0x00281101 + i, "US", [n, 0, nbits])
            raw(ds, 0x00281201 + i, "OW", bytes(length))
        return f"palette [{n},0,{nbits}] {length} bytes"
    item, detail = _lut_item(rng)
    if which == "modality":
        raw(item, 0x00283004, "LO", "HU")
        raw(ds, 0x00283000, "SQ", Sequence([item]))
        if rng.random() < 0.5:
            for t in (0x00281052, 0x00281053):
                ds.pop(t, None)
    else:
        raw(ds, 0x00283010, "SQ", Sequence([item]))
    return f"{which} LUT {detail}"


def pathlike(ds, rng):
    name, tag, vr = rng.choice([("StudyInstanceUID", 0x0020000D, "UI"), ("StudyInstanceUID", 0x0020000D, "UI"),
                                ("SeriesInstanceUID", 0x0020000E, "UI"), ("SOPInstanceUID", 0x00080018, "UI"),
                                ("PatientID", 0x00100020, "LO"), ("PatientID", 0x00100020, "LO"),
                                ("PatientName", 0x00100010, "PN"), ("AccessionNumber", 0x00080050, "SH")])
    v = rng.choice(HOSTILE)
    raw(ds, tag, vr, v)
    if any(ord(ch) > 127 for ch in v):
        ds.SpecificCharacterSet = "ISO_IR 192"
    return f"{name}={v!r}"


DATASET = {"rows-cols": rows_cols, "bits": bits, "samples": samples, "frames": frames, "photometric": photometric,
           "planar": planar, "numeric": numeric, "wrong-vr": wrong_vr, "missing": missing, "lut": lut, "pathlike": pathlike}


# ---- byte level -------------------------------------------------------------------------------------------

def dataset_start(data):
    """Offset of the first dataset element: after the preamble and the meta group, if any."""
    if len(data) >= 144 and data[128:132] == b"DICM" and data[132:136] == b"\x02\x00\x00\x00":
        return 144 + struct.unpack("<I", data[140:144])[0]
    return 0


def find_element(data, tag, explicit, little, start=None):
    """Offset of the first element with `tag` at or after the dataset start (None if absent)."""
    pattern = struct.pack("<HH" if little else ">HH", tag >> 16, tag & 0xFFFF)
    pos = dataset_start(data) if start is None else start
    while (pos := data.find(pattern, pos)) >= 0:
        if not explicit or data[pos + 4:pos + 6].isalpha() and data[pos + 4:pos + 6].isupper():
            return pos
        pos += 1
    return None


def header(data, pos, explicit, little):
    """(offset of the length field, its size in bytes, header size) of the element at `pos`."""
    if not explicit:
        return pos + 4, 4, 8
    return (pos + 8, 4, 12) if bytes(data[pos + 4:pos + 6]) in LONG_LENGTH_VRS else (pos + 6, 2, 8)


def set_length(data, pos, explicit, little, length):
    at, size, _ = header(data, pos, explicit, little)
    data[at:at + size] = struct.pack(("<" if little else ">") + ("H" if size == 2 else "I"), length & (0xFFFF if size == 2 else 0xFFFFFFFF))


def value_length(data, pos, explicit, little):
    at, size, hdr = header(data, pos, explicit, little)
    return struct.unpack(("<" if little else ">") + ("H" if size == 2 else "I"), data[at:at + size])[0], hdr


def splice(data, pos, explicit, little, value):
    """Replaces the value of the element at `pos` (defined length) and fixes its length field."""
    old, hdr = value_length(data, pos, explicit, little)
    data[pos + hdr:pos + hdr + old] = value
    set_length(data, pos, explicit, little, len(value))


def nested_sequence(depth, items, explicit, little):
    """A sequence (0008,1140) of undefined length nested `depth` deep, the innermost holding `items` items."""
    e = "<" if little else ">"
    tag = lambda g, el: struct.pack(e + "HH", g, el)
    sq = tag(0x0008, 0x1140) + ((b"SQ\x00\x00" + struct.pack(e + "I", 0xFFFFFFFF)) if explicit else struct.pack(e + "I", 0xFFFFFFFF))
    item, item_end = tag(0xFFFE, 0xE000) + struct.pack(e + "I", 0xFFFFFFFF), tag(0xFFFE, 0xE00D) + bytes(4)
    seq_end = tag(0xFFFE, 0xE0DD) + bytes(4)
    uid = tag(0x0008, 0x1155) + ((b"UI" + struct.pack(e + "H", 6)) if explicit else struct.pack(e + "I", 6)) + b"1.2.3\x00"
    inner = sq + (item + uid + item_end) * items + seq_end
    return (sq + item) * depth + inner + (item_end + seq_end) * depth
