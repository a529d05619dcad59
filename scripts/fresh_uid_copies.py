#!/usr/bin/env python3
"""Writes COUNT copies of the given DICOM files into OUT, each with fresh Study, Series and SOP
Instance UIDs and its own patient (one study per copy, like a cohort of different people), for
sharding and merge checks at cohort scale:

    .venv/bin/python scripts/fresh_uid_copies.py --count 2000 --out DIR studies/chest/*.dcm

UIDs are derived from the copy number (2.25.<uuid5>), so the same command writes the same cohort.
"""
import argparse
import os
import uuid

import pydicom


def uid(*parts):
    return "2.25." + str(uuid.uuid5(uuid.NAMESPACE_OID, "dxkit-copies/" + "/".join(map(str, parts))).int)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("files", nargs="+")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    sources = [pydicom.dcmread(f) for f in sorted(a.files)]
    for k in range(a.count):
        ds = sources[k % len(sources)]
        ds.StudyInstanceUID = uid(k, "study")
        ds.SeriesInstanceUID = uid(k, "series")
        ds.SOPInstanceUID = uid(k, "instance")
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.PatientID = f"COPY{k:05d}"
        ds.AccessionNumber = f"A{k:05d}"
        ds.save_as(os.path.join(a.out, f"copy-{k:05d}.dcm"), enforce_file_format=True)
    print(f"fresh_uid_copies: {a.count} files in {a.out}")


if __name__ == "__main__":
    main()
