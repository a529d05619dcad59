#!/usr/bin/env python3
"""Seeded corpus of hostile and broken DICOM input for the issue-12 fuzzer (test time only).

    .venv/bin/python scripts/fuzz_corpus.py --seed 12 --count 5000 --out /tmp/fuzz-corpus

Guarantees: the corpus is a function of (--seed, the seed files below, pydicom's version): case i is
made by random.Random(f"{seed}/{i}") alone, so a smaller --count gives a prefix of a larger one.
--count is the number of entries (files, symlinks, FIFOs) made, at least; a case can make several (a
pair of files, a DICOMDIR with its targets, a folder of symlinks). Every entry is listed in
OUT/manifest.csv with the mutation that made it (also in its name: NNNNN-kind-seed). No network.
Seeds missing on this machine are left out and named on stderr (the corpus then differs).
"""
import argparse
import csv
import gzip
import io
import os
import random
import struct
import sys
import warnings
import zlib
from pathlib import Path

import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import fuzz_mutations as M  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TESTS = ".cache/data/pydicom/pydicom/data/test_files/"
DATA = ".cache/data/pydicom-data/data_store/data/"
# A mix of transfer syntaxes and pixel formats: explicit/implicit LE, big endian (with and without meta),
# deflate, RLE, JPEG baseline/extended/lossless, JPEG-LS, JPEG 2000, multi-frame, palette, YBR, signed, 1-bit, 32-bit.
OTHER_SEEDS = [TESTS + n for n in (
    "CT_small.dcm MR_small_implicit.dcm MR_small_bigendian.dcm ExplVR_BigEndNoMeta.dcm no_meta.dcm image_dfl.dcm "
    "MR_small_RLE.dcm JPEG-lossy.dcm SC_rgb_jpeg_dcmtk.dcm MR_small_jpeg_ls_lossless.dcm JPEGLSNearLossless_08.dcm "
    "MR_small_jp2klossless.dcm JPEG2000.dcm examples_palette.dcm examples_ybr_color.dcm SC_ybr_full_422_uncompressed.dcm "
    "SC_rgb_rle_2frame.dcm rtdose_1frame.dcm SC_rgb_small_odd.dcm SC_rgb_small_odd_big_endian.dcm liver_1frame.dcm").split()]
OTHER_SEEDS += [DATA + n for n in (
    "SC_rgb_32bit.dcm liver.dcm OBXXXX1A_rle.dcm emri_small_jpeg_2k_lossless.dcm emri_small_jpeg_ls_lossless.dcm "
    "JPGLosslessP14SV1_1s_1f_8b.dcm OT-PAL-8-face.dcm vlut_04.dcm mlut_18.dcm SC_rgb_expb.dcm US1_J2KI.dcm "
    "SC_rgb_16bit_2frame.dcm color-pl.dcm emri_small.dcm MR2_J2KI.dcm").split()]
CHEST_GLOB, BIG_SEEDS = "studies/chest/*.dcm", ["studies/rg1/RG1_UNCI.dcm", "studies/mammograms/sfm-benign-0/1-130.dcm"]

KINDS = {"trunc-byte": 6, "trunc-element": 4, "trunc-pixels": 5, "flip-bits": 8, "random-bytes": 5, "rows-cols": 5,
         "bits": 5, "samples": 4, "frames": 4, "photometric": 3, "planar": 2, "numeric": 8, "wrong-vr": 4,
         "wrong-length": 5, "odd-length": 3, "missing": 5, "lut": 4, "deep-seq": 2, "pathlike": 6, "stacked": 4,
         "dup-sop": 2, "two-patients": 2, "nondicom": 4, "dicomdir": 1, "symlink": 1.5, "fifo": 0.5, "clean": 2}
SCORABLE = {"numeric", "pathlike", "dup-sop", "two-patients", "missing", "rows-cols", "clean"}  # chest seeds preferred
DEFLATE, EXPLICIT_LE = "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.1"


class Corpus:
    def __init__(self, out, seeds):
        self.out, self.seeds, self.rows, self.cache = out, seeds, [], {}

    def emit(self, rel, content, kind, seed, detail):
        """Writes one entry (bytes, or a callable making a non-regular entry) and records it."""
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        content(path) if callable(content) else path.write_bytes(bytes(content))
        self.rows.append((rel, kind, Path(seed).name if seed else "", detail))

    def pick_seed(self, rng, kind):
        r = rng.random()
        group = self.seeds["chest"] if r < (0.6 if kind in SCORABLE else 0.35) else \
            self.seeds["big"] if r < (0.61 if kind in SCORABLE else 0.36) else self.seeds["other"]
        return rng.choice(group or self.seeds["chest"])

    def seed_bytes(self, seed):
        if seed not in self.cache:
            self.cache[seed] = (REPO / seed).read_bytes()
        return self.cache[seed]

    def base(self, rng, seed, native=False):
        """The seed as a Dataset with fresh UIDs; non-chest seeds are sometimes made to look like chest CRs
        (so that a head accepts them and scoring runs on them). native: never deflated (for byte edits)."""
        ds = pydicom.dcmread(io.BytesIO(self.seed_bytes(seed)), force=True)
        uid = lambda: f"2.25.{rng.getrandbits(100)}"
        ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID = uid(), uid(), uid()
        meta = getattr(ds, "file_meta", None)
        if meta is not None and "MediaStorageSOPInstanceUID" in meta:
            meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        if "chest" not in seed and "mammograms" not in seed and rng.random() < 0.5:
            ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "CR", "CHEST", "PA"
        if native and meta is not None and meta.get("TransferSyntaxUID") == DEFLATE:
            meta.TransferSyntaxUID = EXPLICIT_LE
        return ds


def encode(ds):
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=False)
    return bytearray(buf.getvalue())


def encoding(ds):
    """(explicit VR, little endian) of the dataset as it will be written."""
    ts = getattr(ds, "file_meta", Dataset()).get("TransferSyntaxUID")
    if ts is None:
        implicit, little = ds.original_encoding
        return not implicit, little
    return ts != "1.2.840.10008.1.2", ts != "1.2.840.10008.1.2.2"


def byte_mutation(kind, rng, ds):
    """Encodes `ds` and damages the bytes. Returns (bytes, detail)."""
    data, (explicit, little) = encode(ds), encoding(ds)
    pixels = M.find_element(data, 0x7FE00010, explicit, little)
    if kind == "trunc-pixels" and pixels is not None:
        cut = rng.randrange(pixels + 1, len(data))
        return data[:cut], f"cut at {cut} of {len(data)} (pixel data at {pixels})"
    if kind in ("trunc-byte", "trunc-pixels"):
        cut = rng.randrange(0, len(data))
        return data[:cut], f"cut at {cut} of {len(data)}"
    if kind == "flip-bits":
        end = min(len(data), 2200) if rng.random() < 0.6 else len(data)
        spots = sorted(rng.randrange(0, end) for _ in range(rng.choice([1, 2, 4, 16, 64])))
        for p in spots:
            data[p] ^= 1 << rng.randrange(8)
        return data, f"{len(spots)} bits flipped in [0,{end})"
    if kind == "random-bytes":
        at, n = rng.randrange(0, len(data)), rng.choice([1, 4, 16, 64, 512])
        data[at:at + n] = rng.randbytes(n)
        return data, f"{n} random bytes at {at}"
    tags = [0x00280010, 0x00280011, 0x00280100, 0x00100020, 0x0020000D, 0x00080018, 0x7FE00010, 0x00281050]
    rng.shuffle(tags)
    for tag in tags:
        pos = M.find_element(data, tag, explicit, little)
        if pos is None:
            continue
        old, hdr = M.value_length(data, pos, explicit, little)
        if kind == "wrong-length":
            new = rng.choice([0, 1, old + 1, max(old - 1, 0), 0xFFFFFFFF, 0x7FFFFFFE, len(data)])
            M.set_length(data, pos, explicit, little, new)
            return data, f"({tag >> 16:04X},{tag & 0xFFFF:04X}) length {old} -> {new}"
        if kind == "odd-length" and old != 0xFFFFFFFF:
            value = {0x00100020: b"ABC", 0x0020000D: b"1.2.3", 0x00080018: b"1.2.345"}.get(tag, bytes(data[pos:pos + 3]))
            if tag == 0x7FE00010:
                value = bytes(data[pos + hdr:pos + hdr + max(old - 1, 1)])
            M.splice(data, pos, explicit, little, value)
            return data, f"({tag >> 16:04X},{tag & 0xFFFF:04X}) odd length {len(value)}"
    cut = rng.randrange(0, len(data))
    return data[:cut], f"no element to edit; cut at {cut}"


def dataset_case(c, i, kind, rng):
    seed = c.pick_seed(rng, kind)
    name = f"{i:05d}-{kind}-{Path(seed).stem}.dcm"
    if kind in ("dup-sop", "two-patients"):
        a, b = c.base(rng, seed), c.base(rng, seed)
        if kind == "dup-sop":
            b.SOPInstanceUID = a.SOPInstanceUID
        else:
            b.StudyInstanceUID = a.StudyInstanceUID
        a.PatientID, b.PatientID, b.PatientName = f"FUZZ-{i}-A", f"FUZZ-{i}-B", f"OTHER^{i}"
        detail = f"{a.SOPInstanceUID if kind == 'dup-sop' else a.StudyInstanceUID} shared by {a.PatientID} and {b.PatientID}"
        c.emit(name.replace(".dcm", "-a.dcm"), encode(a), kind, seed, detail)
        c.emit(name.replace(".dcm", "-b.dcm"), encode(b), kind, seed, detail)
        return
    ds = c.base(rng, seed, native=kind in ("deep-seq", "trunc-byte", "trunc-pixels", "flip-bits", "random-bytes",
                                          "wrong-length", "odd-length"))
    if kind == "clean":
        data, detail = encode(ds), "fresh UIDs only"
    elif kind == "trunc-element":
        tags = sorted(ds.keys())
        pixels = 0x7FE00010 in ds and rng.random() < 0.4
        cut = 0x7FE00010 if pixels else rng.choice(tags)
        for t in tags:
            if t >= cut if pixels else t > cut:
                del ds[t]
        data, detail = encode(ds), f"ends exactly {'before' if pixels else 'after'} ({cut >> 16:04X},{cut & 0xFFFF:04X})"
    elif kind == "deep-seq":
        depth = rng.choice([1, 64, 500, 5000, 50000])
        items = rng.choice([1, 10, 100000]) if depth < 500 else 1
        M.raw(ds, 0x00081140, "OB", b"FUZZMARK")
        data, (explicit, little) = encode(ds), encoding(ds)
        at = data.find(b"FUZZMARK")
        hdr = 12 if explicit else 8
        data[at - hdr:at + 8] = M.nested_sequence(depth, items, explicit, little)
        detail = f"sequence nested {depth} deep, {items} items inside"
    elif kind in M.DATASET or kind == "stacked":
        names = rng.sample(sorted(M.DATASET), 2) if kind == "stacked" else [kind]
        detail = "; ".join(M.DATASET[n](ds, rng) for n in names)
        kind = "stacked:" + "+".join(names) if kind == "stacked" else kind
        data = encode(ds)
    else:
        data, detail = byte_mutation(kind, rng, ds)
    c.emit(name, data, kind, seed, detail)


def png_bytes(rng):
    w = h = 4
    raw = b"".join(b"\x00" + rng.randbytes(w) for _ in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)) + \
        chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def nondicom_case(c, i, rng):
    what = rng.choice(["text", "html", "png", "empty", "random", "preamble-only", "dicm-garbage", "gzip-dicom", "json"])
    content = {"text": b"not a DICOM file\n", "html": b"<html><script>alert(1)</script></html>", "png": png_bytes(rng),
               "empty": b"", "random": rng.randbytes(rng.choice([1, 131, 132, 4096, 65536])),
               "preamble-only": bytes(128) + b"DICM", "dicm-garbage": bytes(128) + b"DICM" + rng.randbytes(300),
               "gzip-dicom": gzip.compress(c.seed_bytes(c.seeds["chest"][0]), mtime=0),
               "json": b'{"Rows": 65535}'}[what]
    ext = rng.choice([".dcm", ".dcm", ".dcm", "", ".DCM", ".txt", ".png", ".json"])
    c.emit(f"{i:05d}-nondicom-{what}{ext}", content, "nondicom", "", f"{what} ({len(content)} bytes) named {ext or 'without extension'}")


def dicomdir_case(c, i, rng):
    folder, up = f"{i:05d}-dicomdir", [".."] * 16
    targets = {"local": ["IMG1"], "outside": up + ["etc", "passwd"], "dev-zero": up + ["dev", "zero"],
               "absolute-dev-zero": ["", "dev", "zero"], "missing": ["NOPE"], "itself": ["DICOMDIR"],
               "sibling-folder": [".."]}
    chosen = rng.sample(sorted(targets), rng.choice([1, 2, 3]))
    seed = c.seeds["chest"][0]
    img = c.base(rng, seed)
    c.emit(f"{folder}/IMG1", encode(img), "dicomdir:target", seed, "clean file a DICOMDIR points to")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID = "1.2.840.10008.1.3.10", f"2.25.{rng.getrandbits(100)}"
    meta.TransferSyntaxUID = EXPLICIT_LE
    ds = Dataset()
    ds.file_meta, ds.preamble, ds.FileSetID = meta, bytes(128), "FUZZ"
    records = []
    for t in chosen:
        r = Dataset()
        r.OffsetOfTheNextDirectoryRecord, r.RecordInUseFlag, r.OffsetOfReferencedLowerLevelDirectoryEntity = 0, 0xFFFF, 0
        r.DirectoryRecordType = "IMAGE"
        M.raw(r, 0x00041500, "CS", "\\".join(targets[t]))
        r.ReferencedSOPClassUIDInFile, r.ReferencedSOPInstanceUIDInFile = img.SOPClassUID, img.SOPInstanceUID
        records.append(r)
    ds.DirectoryRecordSequence = Sequence(records)
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    c.emit(f"{folder}/DICOMDIR", buf.getvalue(), "dicomdir", "", "references " + ",".join(chosen))


def symlink_case(c, i, rng):
    folder, seed = f"{i:05d}-symlink", c.seeds["chest"][0]
    c.emit(f"{folder}/real/target.dcm", encode(c.base(rng, seed)), "symlink:target", seed, "clean file links point to")
    links = {"to-file": "real/target.dcm", "to-folder": "real", "loop-self": ".", "loop-parent": "..",
             "dangling": "gone.dcm", "to-dev-zero": "/dev/zero", "outside": "/etc/passwd", "cycle": None}
    for name in rng.sample(sorted(links), rng.choice([1, 2, 3])):
        pairs = [("cycle-a.dcm", "cycle-b.dcm"), ("cycle-b.dcm", "cycle-a.dcm")] if name == "cycle" else \
            [(name if "folder" in name or "loop" in name else f"{name}.dcm", links[name])]
        for n, to in pairs:
            c.emit(f"{folder}/{n}", lambda p, to=to: os.symlink(to, p), f"symlink:{name}", "", f"-> {to}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # pydicom warns about the invalid values it is asked to write
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"fuzz_corpus: {args.out} is not empty")
    available = lambda paths: [p for p in paths if (REPO / p).is_file() or print(f"fuzz_corpus: seed missing: {p}", file=sys.stderr)]
    seeds = {"chest": available(sorted(str(p.relative_to(REPO)) for p in REPO.glob(CHEST_GLOB))),
             "big": available(BIG_SEEDS), "other": available(OTHER_SEEDS)}
    if not seeds["chest"] or not seeds["other"]:
        sys.exit("fuzz_corpus: seed files missing (run `make setup`)")
    args.out.mkdir(parents=True, exist_ok=True)
    c, kinds = Corpus(args.out, seeds), sorted(KINDS)
    i = 0
    while len(c.rows) < args.count:
        rng = random.Random(f"{args.seed}/{i}")
        kind = rng.choices(kinds, weights=[KINDS[k] for k in kinds])[0]
        if kind == "nondicom":
            nondicom_case(c, i, rng)
        elif kind == "dicomdir":
            dicomdir_case(c, i, rng)
        elif kind == "symlink":
            symlink_case(c, i, rng)
        elif kind == "fifo":
            c.emit(f"{i:05d}-fifo.dcm", os.mkfifo, "fifo", "", "a named pipe (reading it blocks)")
        else:
            dataset_case(c, i, kind, rng)
        i += 1
    with open(args.out / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "kind", "seed", "detail")] + c.rows)
    print(f"fuzz_corpus: {len(c.rows)} entries from {i} cases (seed {args.seed}) in {args.out}")


if __name__ == "__main__":
    main()
