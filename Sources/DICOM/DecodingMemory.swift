import CDCMTK

/// Process-wide memory behaviour suited to decoding large frames.
public enum DecodingMemory {
    /// Frames are tens of megabytes: keep freed blocks in the heap for reuse instead of
    /// returning them to the kernel (glibc would map and unmap each, faulting in every page).
    public static func keepFreedBlocks() { dx_keep_freed_memory() }
}
