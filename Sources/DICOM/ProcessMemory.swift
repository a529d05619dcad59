import Foundation

/// The memory this process can count on: physical memory and the address-space limit.
public enum ProcessMemory {
    public static var physicalBytes: UInt64 { ProcessInfo.processInfo.physicalMemory }

    /// `RLIMIT_AS` in bytes, nil when unlimited.
    public static var addressSpaceLimit: Int? {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max else { return nil }
        return Int(clamping: limit.rlim_cur)
    }
}
