import Foundation

/// `multipart/related` bodies as DICOMweb uses them (PS3.18 8.6.1.2): split a WADO-RS response into
/// its parts, and write a STOW-RS request body. Every byte of a response is untrusted: a part
/// without headers or a final boundary is an error naming what is missing, never a crash.
enum Multipart {
    /// The `boundary` parameter of a Content-Type header (quoted or not).
    static func boundary(contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.utf8.count > 200 ? nil : value
        }
        return nil
    }

    /// One part: its headers (lower-cased names) and the byte range of its body in the whole.
    struct Part {
        var headers: [String: String]
        var body: Range<Int>
    }

    /// Splits `data` at `boundary`. Throws `NetworkError(file: source)` when the body is not well formed.
    static func parts(_ data: Data, boundary: String, source: String) throws -> [Part] {
        let delimiter = Data(("--" + boundary).utf8)
        let crlf = Data("\r\n".utf8), headerEnd = Data("\r\n\r\n".utf8)
        var parts: [Part] = []
        guard var cursor = data.range(of: delimiter)?.upperBound else {
            throw NetworkError(file: source, reason: "multipart body without its boundary")
        }
        while true {
            // After a delimiter: "--" closes the body, CRLF starts a part.
            if data.count >= cursor + 2, data[data.startIndex + cursor] == UInt8(ascii: "-"),
               data[data.startIndex + cursor + 1] == UInt8(ascii: "-") {
                return parts
            }
            guard let lineEnd = data.range(of: crlf, in: cursor..<data.count) else {
                throw NetworkError(file: source, reason: "multipart body ends inside a boundary line")
            }
            let headersStart = lineEnd.upperBound
            let headers: [String: String]
            let bodyStart: Int
            if data.count >= headersStart + 2, data[headersStart..<headersStart + 2] == crlf {
                headers = [:]
                bodyStart = headersStart + 2
            } else {
                guard let end = data.range(of: headerEnd, in: headersStart..<data.count) else {
                    throw NetworkError(file: source, reason: "multipart part without the end of its headers")
                }
                headers = Self.headers(data[headersStart..<end.lowerBound])
                bodyStart = end.upperBound
            }
            guard let next = data.range(of: crlf + delimiter, in: bodyStart..<data.count) else {
                throw NetworkError(file: source, reason: "multipart body ends without its closing boundary (truncated?)")
            }
            parts.append(Part(headers: headers, body: bodyStart..<next.lowerBound))
            cursor = next.upperBound
        }
    }

    static func headers(_ bytes: Data) -> [String: String] {
        var out: [String: String] = [:]
        for line in String(decoding: bytes, as: UTF8.self).components(separatedBy: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            out[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] =
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return out
    }

    /// Writes a STOW-RS body of `files` (each an application/dicom part) to `output`; returns its size.
    static func writeBody(files: [String], boundary: String, to output: URL) throws -> Int {
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        defer { try? handle.close() }
        var size = 0
        func put(_ d: Data) throws {
            try handle.write(contentsOf: d)
            size += d.count
        }
        for file in files {
            try put(Data("--\(boundary)\r\nContent-Type: application/dicom\r\n\r\n".utf8))
            guard let input = FileHandle(forReadingAtPath: file) else {
                throw NetworkError(file: file, reason: "cannot read the file")
            }
            defer { try? input.close() }
            while let chunk = try input.read(upToCount: 1 << 20), !chunk.isEmpty { try put(chunk) }
            try put(Data("\r\n".utf8))
        }
        try put(Data("--\(boundary)--\r\n".utf8))
        return size
    }
}
