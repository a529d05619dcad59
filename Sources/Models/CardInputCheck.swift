import Imaging

extension ModelCard.Input {
    /// The resize method `resize` names (cards are checked when read, so it always names one).
    public var resizeMethod: ResizeMethod { ResizeMethod(resize) ?? .bilinear }

    /// Refuses an input section dxkit cannot prepare, before anything is allocated: an unknown
    /// resize method, a crop that is not the input size, sizes out of range, a channel count other
    /// than 1 (grey, e.g. TorchXRayVision's convention) or 3, normalisation of another length.
    func check(file: String) throws {
        func fail(_ reason: String) -> ModelError { ModelError(file: file, reason: "input: \(reason)") }
        guard (1...8192).contains(height), (1...8192).contains(width) else {
            throw fail("size \(width)x\(height) is not within 1…8192")
        }
        guard let method = ResizeMethod(resize) else {
            throw fail("unknown resize \"\(resize)\" (nearest, bilinear, stretch, shorter-S-crop-C, letterbox)")
        }
        if let problem = method.problem(width: width, height: height) { throw fail("resize \(resize): \(problem)") }
        guard channels == 1 || channels == 3 else { throw fail("\(channels) channels (1 or 3)") }
        guard normalization.scale.count == channels, normalization.offset.count == channels else {
            throw fail("normalization has \(normalization.scale.count) scales and \(normalization.offset.count) offsets for \(channels) channels")
        }
    }
}

extension ModelCard {
    /// This card as `train` prepares images for a head on this backbone: a centre crop
    /// (`shorter-S-crop-C`, the ImageNet evaluation transform) becomes a stretch to the input size
    /// (`bilinear`), since a crop would cut off the edges of a radiograph, where findings lie; the
    /// head's card records that resize, so scoring prepares images the same way.
    public var forTraining: ModelCard {
        var card = self
        if case .shorterThenCrop = input.resizeMethod { card.input.resize = "bilinear" }
        return card
    }
}
