import DICOM
import XCTest

/// Derived UIDs: `2.25.` and the decimal of a version-8 UUID from SHA-256 of the length-prefixed
/// parts — the same on every run, different for different parts.
final class DerivedUIDTests: XCTestCase {
    func testMatchesAnIndependentComputation() {
        // Python: int.from_bytes of sha256(len-prefixed parts)[:16] with version 8 and variant bits set.
        XCTAssertEqual(DerivedUID.make(["dxkit sr", "1.2.3", "key"]), "2.25.278118448560975635414317343946195396765")
        XCTAssertEqual(DerivedUID.make(["dxkit", "device observer"]), "2.25.270398110374510164860018736191866690151")
    }

    func testDistinctPartsGiveDistinctValidUIDs() {
        let a = DerivedUID.make(["ab", "c"]), b = DerivedUID.make(["a", "bc"])
        XCTAssertNotEqual(a, b)
        for uid in [a, b, DerivedUID.make([])] {
            XCTAssertLessThanOrEqual(uid.count, 64)
            XCTAssertNotNil(uid.range(of: #"^2\.25\.[1-9][0-9]*$"#, options: .regularExpression), uid)
        }
    }
}
