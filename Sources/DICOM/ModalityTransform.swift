/// The Modality LUT stage: stored values to modality units (e.g. Hounsfield), exact in
/// floating point. Applies only to monochrome data.
public enum ModalityTransform: Sendable, Equatable {
    case identity
    case rescale(slope: Double, intercept: Double)
    case lut(LookupTable)

    /// The transform for `frame`: Modality LUT Sequence, else per-frame or shared functional
    /// groups' Pixel Value Transformation, else top-level Rescale Slope/Intercept.
    /// Throws when the file's slope or intercept is not a finite number, or would take the
    /// stored value range beyond what a Float32 holds (e.g. RescaleSlope "1e400" or 1e300).
    public static func read(_ file: DicomFile, layout: PixelLayout, frame: Int) throws -> ModalityTransform {
        guard layout.isMonochrome else { return .identity }
        if file.sequenceCount([.modalityLUTSequence]) > 0,
           let table = try LookupTable.read(file, path: [.modalityLUTSequence], items: [0], signedInput: layout.isSigned) {
            return .lut(table)
        }
        let groups: [([Tag], [Int])] = [
            ([.perFrameFunctionalGroups, .pixelValueTransformationSequence], [frame, 0]),
            ([.sharedFunctionalGroups, .pixelValueTransformationSequence], [0, 0]),
            ([], []),
        ]
        for (path, items) in groups {
            let slope = file.element(path + [.rescaleSlope], items: items)?.double(at: 0)
            let intercept = file.element(path + [.rescaleIntercept], items: items)?.double(at: 0)
            if slope != nil || intercept != nil {
                let s = slope ?? 1, b = intercept ?? 0
                try checkRescale(slope: s, intercept: b, layout: layout, file: file.path)
                return s == 1 && b == 0 ? .identity : .rescale(slope: s, intercept: b)
            }
        }
        return .identity
    }

    /// The extreme stored values must map to finite Float32 values.
    static func checkRescale(slope: Double, intercept: Double, layout: PixelLayout, file: String) throws {
        let bits = Swift.min(layout.bitsStored, 32)
        let lo = layout.isSigned ? -Double(Int64(1) << (bits - 1)) : 0
        let hi = layout.isSigned ? Double((Int64(1) << (bits - 1)) - 1) : Double((Int64(1) << bits) - 1)
        let ends = [lo * slope + intercept, hi * slope + intercept]
        guard slope.isFinite, intercept.isFinite, ends.allSatisfy({ Float($0).isFinite }) else {
            throw DicomError(.decode, file: file,
                             reason: "Rescale Slope \(slope) / Intercept \(intercept) give pixel values that are not finite")
        }
    }

    @inline(__always) public func apply(_ v: Int64) -> Float {
        switch self {
        case .identity: return Float(v)
        case let .rescale(slope, intercept): return Float(Double(v) * slope + intercept)
        case let .lut(table): return table.apply(Float(v))
        }
    }
}
