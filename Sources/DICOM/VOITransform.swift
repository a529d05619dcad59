import Foundation

/// The VOI LUT stage: modality values to display values in [0, 1], by a window
/// (LINEAR, LINEAR_EXACT or SIGMOID as in PS3.3 C.11.2.1) or a VOI LUT.
public enum VOITransform: Sendable, Equatable {
    public enum Function: String, Sendable { case linear = "LINEAR", linearExact = "LINEAR_EXACT", sigmoid = "SIGMOID" }

    case window(center: Double, width: Double, function: Function)
    case lut(LookupTable)

    /// The first window (or VOI LUT) the file gives for `frame`: frame functional groups,
    /// then the top-level Window Center/Width, then the VOI LUT Sequence. Nil when none.
    /// Throws when a window centre or width is present but not a finite number.
    public static func read(_ file: DicomFile, frame: Int) throws -> VOITransform? {
        let places: [([Tag], [Int])] = [
            ([.perFrameFunctionalGroups, .frameVOILUTSequence], [frame, 0]),
            ([.sharedFunctionalGroups, .frameVOILUTSequence], [0, 0]),
            ([], []),
        ]
        for (path, items) in places {
            if let c = file.element(path + [.windowCenter], items: items)?.double(at: 0),
               let w = file.element(path + [.windowWidth], items: items)?.double(at: 0), !(w <= 0) {
                guard c.isFinite, w.isFinite, Float(c).isFinite, Float(w).isFinite else {
                    throw DicomError(.decode, file: file.path, reason: "Window Center \(c) / Width \(w) are not finite numbers")
                }
                let name = file.element(path + [.voiLUTFunction], items: items)?.string ?? "LINEAR"
                return .window(center: c, width: w, function: Function(rawValue: name) ?? .linear)
            }
        }
        if file.sequenceCount([.voiLUTSequence]) > 0,
           let table = try LookupTable.read(file, path: [.voiLUTSequence], items: [0], signedInput: false) {
            return .lut(table)
        }
        return nil
    }

    /// A linear window spanning `min...max` (used when the file gives none).
    public static func covering(min: Float, max: Float) -> VOITransform {
        let width = Double(max - min) + 1
        return .window(center: Double(min) + (width - 1) / 2 + 0.5, width: Swift.max(width, 1), function: .linear)
    }

    @inline(__always) public func apply(_ x: Float) -> Float {
        switch self {
        case let .window(c, w, function):
            let x = Double(x)
            switch function {
            case .linear:
                if w <= 1 { return x <= c - 0.5 ? 0 : 1 }
                let lo = c - 0.5 - (w - 1) / 2, hi = c - 0.5 + (w - 1) / 2
                if x <= lo { return 0 }
                if x > hi { return 1 }
                return Float((x - (c - 0.5)) / (w - 1) + 0.5)
            case .linearExact:
                let lo = c - w / 2, hi = c + w / 2
                if x <= lo { return 0 }
                if x > hi { return 1 }
                return Float((x - c) / w + 0.5)
            case .sigmoid:
                return Float(1 / (1 + exp(-4 * (x - c) / w)))
            }
        case let .lut(table):
            return table.apply(x) / table.maxOutput
        }
    }
}
