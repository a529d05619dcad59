"""Test inputs for the network tests (issue 16), written with pydicom from .venv.

  instances --template F --out DIR --studies S --per-study N --name NAME   copies of a template with new UIDs
  tiny --out DIR --studies S --per-study N --name NAME                     8x8 Secondary Capture images (no head takes them)
  unknown-class --template F --out FILE                                    the template under a SOP class no one knows
Every file gets PatientName NAME (the tests check that no log line shows it) and PatientID DXTEST-<study>.
"""
import argparse
import os
import sys

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

SC = "1.2.840.10008.5.1.4.1.1.7"


def stamp(ds, study, series, name, index, patient):
    ds.StudyInstanceUID = study
    ds.SeriesInstanceUID = series
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PatientName = name
    ds.PatientID = patient
    ds.InstanceNumber = index + 1


def instances(args):
    os.makedirs(args.out, exist_ok=True)
    for s in range(args.studies):
        study, series = generate_uid(), generate_uid()
        for i in range(args.per_study):
            ds = pydicom.dcmread(args.template)
            stamp(ds, study, series, args.name, i, f"DXTEST-{s}")
            ds.save_as(os.path.join(args.out, f"s{s:03d}-i{i:03d}.dcm"), enforce_file_format=True)


def tiny(args):
    os.makedirs(args.out, exist_ok=True)
    for s in range(args.studies):
        study, series = generate_uid(), generate_uid()
        for i in range(args.per_study):
            meta = FileMetaDataset()
            meta.MediaStorageSOPClassUID = SC
            meta.TransferSyntaxUID = ExplicitVRLittleEndian
            ds = Dataset()
            ds.file_meta = meta
            ds.SOPClassUID = SC
            ds.Modality = "OT"
            ds.ConversionType = "WSD"
            ds.StudyDate = "20240115"
            ds.Rows = ds.Columns = 8
            ds.SamplesPerPixel = 1
            ds.PhotometricInterpretation = "MONOCHROME2"
            ds.BitsAllocated = ds.BitsStored = 8
            ds.HighBit = 7
            ds.PixelRepresentation = 0
            ds.PixelData = (np.arange(64, dtype=np.uint8) + i).tobytes()
            stamp(ds, study, series, args.name, i, f"DXTEST-{s}")
            ds.save_as(os.path.join(args.out, f"s{s:03d}-i{i:03d}.dcm"), enforce_file_format=True)


def unknown_class(args):
    ds = pydicom.dcmread(args.template)
    ds.SOPClassUID = "1.2.826.0.1.3680043.10.1234.99"
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.save_as(args.out, enforce_file_format=True)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="command", required=True)
    for name in ("instances", "tiny"):
        q = sub.add_parser(name)
        if name == "instances":
            q.add_argument("--template", required=True)
        q.add_argument("--out", required=True)
        q.add_argument("--studies", type=int, default=1)
        q.add_argument("--per-study", type=int, default=1)
        q.add_argument("--name", default="Secret^Patientname")
    q = sub.add_parser("unknown-class")
    q.add_argument("--template", required=True)
    q.add_argument("--out", required=True)
    args = p.parse_args()
    {"instances": instances, "tiny": tiny, "unknown-class": unknown_class}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
