extension UInt8 {
    /// `v` truncated into 0…255; NaN and negatives give 0. Never traps, whatever the value.
    @inline(__always) public init(saturating v: Float) {
        self = v >= 255 ? 255 : (v > 0 ? UInt8(v) : 0)
    }
}

extension UInt16 {
    /// `v` truncated into 0…65535; NaN and negatives give 0. Never traps, whatever the value.
    @inline(__always) public init(saturating v: Float) {
        self = v >= 65535 ? 65535 : (v > 0 ? UInt16(v) : 0)
    }
}
