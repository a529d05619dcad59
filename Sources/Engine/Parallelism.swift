import CBLAS

/// How many cores the engine uses: OpenBLAS's thread count (set once, process-wide).
public enum Parallelism {
    public static var threads: Int = 1 {
        didSet { openblas_set_num_threads(Int32(max(1, threads))) }
    }
}
