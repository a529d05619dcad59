/// How audits name the group an item falls in for one attribute: `age_band` from `age_years` with
/// configurable edges ("18-40", "65+"), anything else as stored; missing or empty values form the
/// group "(missing)".
public enum Grouping {
    public static let missing = "(missing)"

    public static func value(_ attribute: String, _ attributes: [String: String], ageBands: [Double]) -> String {
        if attribute == "age_band" {
            guard let age = attributes["age_years"].flatMap(Double.init) else { return missing }
            var lower = 0.0
            for edge in ageBands {
                if age < edge { return "\(Int(lower))-\(Int(edge))" }
                lower = edge
            }
            return "\(Int(lower))+"
        }
        if let v = attributes[attribute], !v.isEmpty { return v }
        return missing
    }
}
