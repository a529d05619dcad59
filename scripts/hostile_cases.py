#!/usr/bin/env python3
"""Writes the hand-made hostile DICOM cases of issue 12 into a folder, one file per case.

Each file is a valid sample (a chest CR from studies/, pydicom's CT_small.dcm) with one thing
made wrong. Tests/CLITests/HostileInputTests.swift runs dxkit over them and asserts that each
becomes an error row with a reason (or is handled as documented), never a crash, hang or a
result under the wrong patient. Run with the oracle venv:

    .venv/bin/python scripts/hostile_cases.py OUT_DIR

Deterministic: the same files every time. Prints one line per case: name and what it tests.
"""
import copy
import os
import shutil
import sys

import pydicom
from pydicom.dataelem import DataElement
from pydicom.config import settings

settings.writing_validation_mode = pydicom.config.IGNORE
settings.reading_validation_mode = pydicom.config.IGNORE

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TEST_FILES = os.path.join(ROOT, ".cache/data/pydicom/pydicom/data/test_files")
CHEST = os.path.join(ROOT, "studies/chest/NORMAL2-IM-1427-0001.dcm")
CHEST_B = os.path.join(ROOT, "studies/chest/person1946_bacteria_4875.dcm")
CT = os.path.join(TEST_FILES, "CT_small.dcm")


def load(path):
    return pydicom.dcmread(path)


def save(ds, out, name):
    ds.save_as(os.path.join(out, name), enforce_file_format=False)


def raw(tag, vr, value):
    return DataElement(tag, vr, value)


def cases(out):
    made = []

    def case(name, what, ds):
        save(ds, out, name)
        made.append((name, what))

    ds = load(CT); ds[0x00280010] = raw(0x00280010, "DS", "-1e400")
    case("rows-ds-minus-1e400.dcm", "Rows written as DS -1e400 (not an integer)", ds)

    ds = load(CT); ds[0x00280008] = raw(0x00280008, "IS", "2147483647"); ds.Rows = 65535; ds.Columns = 65535
    ds.BitsAllocated = 32; ds.BitsStored = 32; ds.HighBit = 31; ds.SamplesPerPixel = 4
    ds.PhotometricInterpretation = "ARGB"; ds.PlanarConfiguration = 0
    case("frames-rows-columns-overflow.dcm", "2147483647 frames of 65535x65535, 32 bits, 4 samples", ds)

    ds = load(CT); ds.SamplesPerPixel = 3
    case("monochrome-3-samples.dcm", "MONOCHROME2 with Samples per Pixel 3", ds)

    ds = load(CT); ds[0x00281053] = raw(0x00281053, "DS", "1e400")
    case("rescale-slope-1e400.dcm", "Rescale Slope 1e400 (infinite)", ds)

    ds = load(CT); ds[0x00281050] = raw(0x00281050, "DS", "inf"); ds[0x00281051] = raw(0x00281051, "DS", "400")
    case("window-center-inf.dcm", "Window Center inf", ds)

    ds = load(CHEST); ds.Rows = 65535; ds.Columns = 65535
    case("jpeg-65535-square.dcm", "a small JPEG claiming 65535x65535 pixels", ds)

    ds = load(CHEST); ds[0x00101010] = raw(0x00101010, "AS", "infY")
    ds.SOPInstanceUID = "2.25.1201"; ds.StudyInstanceUID = "2.25.1202"
    case("patient-age-infy.dcm", "Patient Age infY", ds)

    ds = load(CHEST); del ds.StudyInstanceUID; ds.SOPInstanceUID = "2.25.1301"
    case("no-study-uid.dcm", "no Study Instance UID", ds)

    for i, uid in enumerate(["index.html", "dxkit.sqlite", "heatmaps"]):
        ds = load(CHEST); ds.StudyInstanceUID = uid; ds.SOPInstanceUID = f"2.25.14{i}1"; ds.PatientID = f"P-{uid}"
        case(f"study-uid-{uid.replace('.', '-')}.dcm", f"Study Instance UID {uid!r}", ds)

    ds = load(CHEST); ds.StudyInstanceUID = "1.2.3\x1b]0;pwned\x07.4"; ds.PatientID = "ESC\x1b[31mRED"
    ds.SOPInstanceUID = "2.25.1501"
    case("control-characters.dcm", "ESC sequences in the Study Instance UID and Patient ID", ds)

    for name, source, patient, sop in [("shared-study-patient-a.dcm", CHEST, "PATIENT-A", "2.25.1601"),
                                       ("shared-study-patient-b.dcm", CHEST_B, "PATIENT-B", "2.25.1602")]:
        ds = load(source); ds.StudyInstanceUID = "2.25.1600"; ds.PatientID = patient; ds.PatientName = patient
        ds.SOPInstanceUID = sop; ds.SeriesInstanceUID = sop + ".1"
        case(name, "two patients share Study Instance UID 2.25.1600", ds)

    # Cut off exactly before the Pixel Data element: a header that parses, with no pixels.
    ds = load(CHEST); ds.SOPInstanceUID = "2.25.1701"; ds.StudyInstanceUID = "2.25.1702"
    whole = os.path.join(out, "cut-before-pixel-data.tmp")
    ds.save_as(whole, enforce_file_format=True)
    data = open(whole, "rb").read()
    os.remove(whole)
    at = data.rfind(b"\xe0\x7f\x10\x00")
    open(os.path.join(out, "cut-before-pixel-data.dcm"), "wb").write(data[:at])
    made.append(("cut-before-pixel-data.dcm", "file cut off exactly between elements, before Pixel Data"))

    # Sequences nested 50,000 deep (explicit VR little endian), inserted before Pixel Data: DCMTK's
    # recursive parser would overflow the stack. And 20 deep, which is fine.
    import struct

    def nested(depth):
        sq = struct.pack("<HH", 0x0008, 0x1140) + b"SQ\x00\x00" + struct.pack("<I", 0xFFFFFFFF)
        item, item_end = struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF), struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
        seq_end = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)
        return (sq + item) * depth + sq + seq_end + (item_end + seq_end) * depth

    for depth in (50000, 20):
        ds = load(CT); ds.SOPInstanceUID = f"2.25.18{depth}"
        if "ReferencedImageSequence" in ds:
            del ds.ReferencedImageSequence
        whole = os.path.join(out, "nested.tmp")
        ds.save_as(whole, enforce_file_format=True)
        data = open(whole, "rb").read()
        os.remove(whole)
        at = data.find(b"\x08\x00\x20\x00", 132)  # (0008,0020) Study Date: the nested (0008,1140) goes after it
        end = at + 8 + struct.unpack("<H", data[at + 6:at + 8])[0]
        open(os.path.join(out, f"nested-sequences-{depth}.dcm"), "wb").write(data[:end] + nested(depth) + data[end:])
        made.append((f"nested-sequences-{depth}.dcm", f"sequences nested {depth} deep"))

    # A DICOMDIR whose first record points out of its folder.
    folder = os.path.join(out, "dicomdir-escape")
    os.makedirs(folder, exist_ok=True)
    dicomdir = load(os.path.join(TEST_FILES, "dicomdirtests/DICOMDIR"))
    for record in dicomdir.DirectoryRecordSequence:
        if "ReferencedFileID" in record:
            record.ReferencedFileID = ["..", "..", "..", "..", "..", "..", "dev", "zero"]
            break
    dicomdir.save_as(os.path.join(folder, "DICOMDIR"), enforce_file_format=False)
    made.append(("dicomdir-escape/DICOMDIR", "DICOMDIR referencing ../../../../../../dev/zero (and missing files)"))
    return made


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for name, what in cases(out):
        print(f"{name}\t{what}")


if __name__ == "__main__":
    main()
