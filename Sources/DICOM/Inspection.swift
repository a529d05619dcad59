import Foundation

/// What `dxkit inspect` reports about one file: key tags and a decode summary of frame 0.
/// Never throws: a file that cannot be read or decoded gives a report with `error` set.
public struct Inspection: Encodable, Sendable {
    public var path: String
    public var instance: Instance?
    public var transferSyntaxUID: String?
    public var photometricDecoded: String?
    public var decoded = false
    public var error: String?
    /// True when `error` means the file is broken (not merely an object without pixels).
    public var failed = false
    public var pixelMin: Double?
    public var pixelMax: Double?
    public var pixelMean: Double?

    /// Makes the same structural checks as ingest (`InstanceReader.check`), so a file that would
    /// be an error row is an error here too.
    public init(path: String, limits: DecodeLimits = .standard) {
        self.path = path
        do {
            let file = try DicomFile(path: path)
            transferSyntaxUID = file.transferSyntaxUID
            let instance = try Instance(file: file)
            self.instance = instance
            try InstanceReader.check(file, instance, limits: limits)
            guard instance.hasPixelData else {
                error = "no Pixel Data (7FE0,0010): not an image"
                return
            }
            let image = try DicomImage(file: file, limits: limits)
            let frame = try image.frame(0)
            let stats = frame.statistics
            photometricDecoded = frame.photometric
            pixelMin = Double(stats.min)
            pixelMax = Double(stats.max)
            pixelMean = stats.mean
            decoded = true
        } catch let e as DicomError {
            error = e.reason
            failed = true
        } catch {
            self.error = "\(error)"
            failed = true
        }
    }

    enum Key: String, CodingKey {
        case file, sop_instance_uid, sop_class_uid, study_instance_uid, series_instance_uid, patient_id, modality,
             body_part, view_position, laterality, manufacturer, rows, columns, frames, samples_per_pixel,
             photometric, photometric_stored, transfer_syntax, transfer_syntax_name, bits_allocated, bits_stored,
             pixel_representation, sex, age_years, window_center, window_width, decoded, error,
             pixel_min, pixel_max, pixel_mean
    }

    /// Every key is always present; unknown values are null.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        let i = instance
        try c.encode(path, forKey: .file)
        try c.encode(i?.sopInstanceUID, forKey: .sop_instance_uid)
        try c.encode(i?.sopClassUID, forKey: .sop_class_uid)
        try c.encode(i?.studyInstanceUID, forKey: .study_instance_uid)
        try c.encode(i?.seriesInstanceUID, forKey: .series_instance_uid)
        try c.encode(i?.patientID, forKey: .patient_id)
        try c.encode(i?.modality, forKey: .modality)
        try c.encode(i?.bodyPart, forKey: .body_part)
        try c.encode(i?.viewPosition, forKey: .view_position)
        try c.encode(i?.laterality, forKey: .laterality)
        try c.encode(i?.manufacturer, forKey: .manufacturer)
        try c.encode(i?.rows, forKey: .rows)
        try c.encode(i?.columns, forKey: .columns)
        try c.encode(i?.frames, forKey: .frames)
        try c.encode(i?.samplesPerPixel, forKey: .samples_per_pixel)
        try c.encode(photometricDecoded ?? i?.photometric, forKey: .photometric)
        try c.encode(i?.photometric, forKey: .photometric_stored)
        try c.encode(transferSyntaxUID, forKey: .transfer_syntax)
        try c.encode(transferSyntaxUID.map(TransferSyntax.name), forKey: .transfer_syntax_name)
        try c.encode(i?.bitsAllocated, forKey: .bits_allocated)
        try c.encode(i?.bitsStored, forKey: .bits_stored)
        try c.encode(i?.pixelRepresentation, forKey: .pixel_representation)
        try c.encode(i?.patientSex, forKey: .sex)
        try c.encode(i?.ageYears, forKey: .age_years)
        try c.encode(i?.windowCenter, forKey: .window_center)
        try c.encode(i?.windowWidth, forKey: .window_width)
        try c.encode(decoded, forKey: .decoded)
        try c.encode(error, forKey: .error)
        try c.encode(pixelMin, forKey: .pixel_min)
        try c.encode(pixelMax, forKey: .pixel_max)
        try c.encode(pixelMean, forKey: .pixel_mean)
    }
}
