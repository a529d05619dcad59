#!/usr/bin/env python3
"""Reads a dxkit SR back with pydicom (test oracle): prints JSON with the study, patient and, per
measurement group, the finding, decision, probabilities and source image."""
import json
import sys

import pydicom


def walk(items):
    for item in items:
        yield item
        if "ContentSequence" in item:
            yield from walk(item.ContentSequence)


def main(path):
    ds = pydicom.dcmread(path)
    groups = []
    for item in walk(ds.ContentSequence):
        if item.ValueType != "CONTAINER" or item.ConceptNameCodeSequence[0].CodeMeaning != "Measurement Group":
            continue
        group = {}
        for child in item.ContentSequence:
            name = child.ConceptNameCodeSequence[0].CodeMeaning
            if child.ValueType == "NUM":
                group[name] = float(child.MeasuredValueSequence[0].NumericValue)
            elif child.ValueType == "CODE":
                code = child.ConceptCodeSequence[0]
                group[name] = code.CodeMeaning
                group[name + " code"] = f"{code.CodingSchemeDesignator} {code.CodeValue}"
            elif child.ValueType == "TEXT":
                group[name] = str(child.TextValue)
            elif child.ValueType == "IMAGE":
                group[name] = str(child.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)
        groups.append(group)
    print(json.dumps({"sop_class_uid": str(ds.SOPClassUID), "modality": str(ds.Modality),
                      "study_instance_uid": str(ds.StudyInstanceUID), "patient_id": str(ds.get("PatientID", "")),
                      "sop_instance_uid": str(ds.SOPInstanceUID), "series_instance_uid": str(ds.SeriesInstanceUID),
                      "series_number": str(ds.get("SeriesNumber", "")),
                      "private_schemes": [str(s.CodingSchemeDesignator) for s in ds.get("CodingSchemeIdentificationSequence", [])],
                      "groups": groups}))


if __name__ == "__main__":
    main(sys.argv[1])
