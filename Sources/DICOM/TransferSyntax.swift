/// Transfer syntax UIDs dxkit knows by name, and which decoder handles each.
public enum TransferSyntax {
    public static let names: [String: String] = [
        "1.2.840.10008.1.2": "Implicit VR Little Endian",
        "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
        "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
        "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
        "1.2.840.10008.1.2.4.50": "JPEG Baseline",
        "1.2.840.10008.1.2.4.51": "JPEG Extended",
        "1.2.840.10008.1.2.4.57": "JPEG Lossless",
        "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
        "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
        "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
        "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
        "1.2.840.10008.1.2.4.91": "JPEG 2000",
        "1.2.840.10008.1.2.4.201": "HTJ2K Lossless",
        "1.2.840.10008.1.2.4.202": "HTJ2K Lossless RPCL",
        "1.2.840.10008.1.2.4.203": "HTJ2K",
        "1.2.840.10008.1.2.5": "RLE Lossless",
    ]

    public static func name(_ uid: String) -> String { names[uid] ?? uid }

    /// JPEG 2000 and HTJ2K: decoded with OpenJPEG, since DCMTK has no codec for them.
    public static func isJPEG2000(_ uid: String) -> Bool {
        ["1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.92",
         "1.2.840.10008.1.2.4.93", "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202",
         "1.2.840.10008.1.2.4.203"].contains(uid)
    }

    /// Syntaxes whose decoded values can differ from the encoder's input.
    public static func isLossy(_ uid: String) -> Bool {
        ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.81",
         "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.203"].contains(uid)
    }
}
