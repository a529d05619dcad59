import Foundation

/// The header section of Fixtures/pixel-oracle.json: pydicom's reading of selected files.
struct HeaderOracle: Decodable {
    struct Entry: Decodable {
        let file: String
        let sop_instance_uid: String
        let sop_class_uid: String
        let study_instance_uid: String?
        let series_instance_uid: String?
        let patient_id: String?
        let sex: String?
        let age_years: Double?
        let modality: String?
        let body_part: String?
        let view_position: String?
        let manufacturer: String?
        let rows: Int, columns: Int, frames: Int
        let bits_allocated: Int, bits_stored: Int, pixel_representation: Int
        let photometric_stored: String
        let transfer_syntax: String
        let pixel_spacing: [Double]?
        let display_mean: Double?, display_min: Double?, display_max: Double?
        let display_png8_mean: Double?
    }
    let headers: [Entry]

    static func load() throws -> [Entry] {
        let data = try Data(contentsOf: TestData.fixtures.appendingPathComponent("pixel-oracle.json"))
        return try JSONDecoder().decode(HeaderOracle.self, from: data).headers
    }
}
