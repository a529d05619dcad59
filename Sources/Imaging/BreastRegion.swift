import DICOM

/// The breast in a mammogram, and everything else blacked out. Small mammography cohorts teach
/// a network shortcuts: a burned-in "LCC" or "RMLO" label, a ruler or a marker predicts the
/// class as well as tissue does. Masking what is not breast before training and scoring takes
/// that away. The region is found on a small copy (longest side `workSize`): Otsu's threshold
/// separates tissue from background, the largest 8-connected bright component is the breast
/// (labels and markers are separate, smaller components), holes in it are filled, and it is
/// grown by one cell so the skin line stays. On an image with no clear foreground (a flat
/// image, a threshold that leaves nothing) the mask is the whole image: nothing is hidden.
public struct BreastRegion: Sendable {
    /// Mask cells, row-major, `width` x `height` (the small copy's size): true inside the breast.
    public var width: Int
    public var height: Int
    public var inside: [Bool]

    public static let workSize = 256

    /// The region of `image` (grey or RGB, values 0…255, tissue bright as displayed).
    public static func find(in image: Image) -> BreastRegion {
        let scale = min(1, Double(workSize) / Double(max(image.width, image.height)))
        let w = max(1, Int(Double(image.width) * scale)), h = max(1, Int(Double(image.height) * scale))
        let small = Resize.area(image, width: w, height: h)
        var grey = [Float](repeating: 0, count: w * h)
        let c = small.channels
        for i in 0..<(w * h) {
            var s: Float = 0
            for k in 0..<c { s += small.pixels[i * c + k] }
            grey[i] = s / Float(c)
        }
        // Below Otsu's split, so the faint fatty tissue near the skin line stays inside.
        let threshold = otsu(grey) * 0.6
        var foreground = grey.map { $0 > threshold }
        guard let largest = largestComponent(&foreground, width: w, height: h) else {
            return BreastRegion(width: w, height: h, inside: [Bool](repeating: true, count: w * h))
        }
        var inside = largest
        fillHoles(&inside, width: w, height: h)
        grow(&inside, width: w, height: h)
        return BreastRegion(width: w, height: h, inside: inside)
    }

    /// Whether the point at fractions (`x`, `y`) of the image's width and height is inside.
    @inline(__always) public func contains(x: Double, y: Double) -> Bool {
        let cx = min(max(Int(x * Double(width)), 0), width - 1), cy = min(max(Int(y * Double(height)), 0), height - 1)
        return inside[cy * width + cx]
    }

    /// `image` with every pixel outside the region set to 0 (black).
    public func apply(to image: Image) -> Image {
        var out = image
        let c = image.channels
        let columns = (0..<image.width).map { min($0 * width / image.width, width - 1) }
        out.pixels.withUnsafeMutableBufferPointer { pixels in
            for y in 0..<image.height {
                let row = min(y * height / image.height, height - 1) * width
                for x in 0..<image.width where !inside[row + columns[x]] {
                    for k in 0..<c { pixels[(y * image.width + x) * c + k] = 0 }
                }
            }
        }
        return out
    }

    /// Share (0…1) of a non-negative map's mass that falls inside the region; the map covers the
    /// whole image on a `mapWidth` x `mapHeight` grid. Nil for a map with no mass.
    public func massInside(_ map: [Float], mapWidth: Int, mapHeight: Int) -> Double? {
        // Each map cell is sampled at the region's resolution (map cells are coarse, the region fine).
        var total = 0.0, inner = 0.0
        for y in 0..<height {
            let my = min(y * mapHeight / height, mapHeight - 1)
            for x in 0..<width {
                let v = Double(max(map[my * mapWidth + min(x * mapWidth / width, mapWidth - 1)], 0))
                guard v.isFinite else { continue }
                total += v
                if inside[y * width + x] { inner += v }
            }
        }
        return total > 0 ? inner / total : nil
    }

    /// Otsu's threshold over 256 bins of 0…255.
    static func otsu(_ values: [Float]) -> Float {
        var histogram = [Double](repeating: 0, count: 256)
        for v in values { histogram[Int(min(max(v.isFinite ? v : 0, 0), 255))] += 1 }
        let total = Double(values.count)
        let sum = histogram.enumerated().reduce(0.0) { $0 + Double($1.offset) * $1.element }
        var background = 0.0, backgroundSum = 0.0, best = -1.0, threshold = 0
        for t in 0..<256 {
            background += histogram[t]
            guard background > 0, background < total else { continue }
            backgroundSum += Double(t) * histogram[t]
            let mb = backgroundSum / background, mf = (sum - backgroundSum) / (total - background)
            let between = background * (total - background) * (mb - mf) * (mb - mf)
            if between > best { best = between; threshold = t }
        }
        return Float(threshold)
    }

    /// The largest 8-connected component of `mask` (nil when it is empty).
    static func largestComponent(_ mask: inout [Bool], width w: Int, height h: Int) -> [Bool]? {
        var label = [Int32](repeating: 0, count: w * h)
        var bestLabel: Int32 = 0, bestSize = 0, next: Int32 = 0
        var stack: [Int] = []
        for start in 0..<(w * h) where mask[start] && label[start] == 0 {
            next += 1
            label[start] = next
            stack.append(start)
            var size = 0
            while let p = stack.popLast() {
                size += 1
                let x = p % w, y = p / w
                for dy in -1...1 {
                    for dx in -1...1 {
                        let nx = x + dx, ny = y + dy
                        guard nx >= 0, nx < w, ny >= 0, ny < h else { continue }
                        let q = ny * w + nx
                        if mask[q] && label[q] == 0 { label[q] = next; stack.append(q) }
                    }
                }
            }
            if size > bestSize { bestSize = size; bestLabel = next }
        }
        guard bestSize > 0 else { return nil }
        return label.map { $0 == bestLabel }
    }

    /// Sets to true every background cell not connected (4-connected) to the image border.
    static func fillHoles(_ mask: inout [Bool], width w: Int, height h: Int) {
        var outside = [Bool](repeating: false, count: w * h)
        var stack: [Int] = []
        for x in 0..<w { stack.append(x); stack.append((h - 1) * w + x) }
        for y in 0..<h { stack.append(y * w); stack.append(y * w + w - 1) }
        while let p = stack.popLast() {
            guard !mask[p], !outside[p] else { continue }
            outside[p] = true
            let x = p % w, y = p / w
            if x > 0 { stack.append(p - 1) }
            if x + 1 < w { stack.append(p + 1) }
            if y > 0 { stack.append(p - w) }
            if y + 1 < h { stack.append(p + w) }
        }
        for p in 0..<(w * h) where !outside[p] { mask[p] = true }
    }

    /// Grows the region by one cell in each direction (8-neighbourhood).
    static func grow(_ mask: inout [Bool], width w: Int, height h: Int) {
        let source = mask
        for y in 0..<h {
            for x in 0..<w where !source[y * w + x] {
                search: for dy in -1...1 {
                    for dx in -1...1 {
                        let nx = x + dx, ny = y + dy
                        if nx >= 0, nx < w, ny >= 0, ny < h, source[ny * w + nx] { mask[y * w + x] = true; break search }
                    }
                }
            }
        }
    }
}
