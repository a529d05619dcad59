/// How much a single file may make dxkit decode. Attribute values are untrusted: a 240 KB JPEG
/// can claim 65535 x 65535 pixels, so sizes are checked against these limits before anything
/// is allocated, and a file above them becomes that file's error, never an allocation.
public struct DecodeLimits: Sendable, Equatable {
    /// Rows x Columns of one frame. The default (2 x 10^8) is far above any mammogram
    /// (about 4,000 x 5,000 = 2 x 10^7) or whole-slide tile frame.
    public var maxPixelsPerFrame: Int
    /// Bytes one frame's decode may need at its peak (see `PixelLayout.decodeBytes`).
    public var maxDecodeBytes: Int

    public init(maxPixelsPerFrame: Int = 200_000_000, maxDecodeBytes: Int = DecodeLimits.defaultMemory) {
        self.maxPixelsPerFrame = maxPixelsPerFrame
        self.maxDecodeBytes = maxDecodeBytes
    }

    public static let standard = DecodeLimits()

    /// Half of what this process may use: the smaller of physical memory and the address-space
    /// limit (`ulimit -v`), so that a decode dxkit accepts does not fail to allocate.
    public static let defaultMemory: Int = {
        var limit = Int(clamping: ProcessMemory.physicalBytes)
        if let addressSpace = ProcessMemory.addressSpaceLimit { limit = Swift.min(limit, addressSpace) }
        return Swift.max(limit / 2, 64 << 20)
    }()
}
