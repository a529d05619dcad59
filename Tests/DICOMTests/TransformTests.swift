import DICOM
import XCTest

/// The VOI and LUT formulas at the points PS3.3 C.11.2.1.2 defines, and age parsing.
final class TransformTests: XCTestCase {
    func testLinearWindowFollowsTheStandard() {
        let voi = VOITransform.window(center: 2048, width: 4096, function: .linear)
        // y = ((x - (c - 0.5)) / (w - 1) + 0.5), clamped; lower edge c - 0.5 - (w-1)/2 = 0.
        XCTAssertEqual(voi.apply(0), 0)
        XCTAssertEqual(voi.apply(4095.5), 1)
        XCTAssertEqual(voi.apply(2047.5), 0.5, accuracy: 1e-6)
        XCTAssertEqual(voi.apply(1000), Float((1000 - 2047.5) / 4095.0 + 0.5), accuracy: 1e-6)
        XCTAssertEqual(voi.apply(-500), 0)
        XCTAssertEqual(voi.apply(9000), 1)
    }

    func testLinearExactAndSigmoid() {
        let exact = VOITransform.window(center: 100, width: 50, function: .linearExact)
        XCTAssertEqual(exact.apply(100), 0.5, accuracy: 1e-6)
        XCTAssertEqual(exact.apply(75), 0)
        XCTAssertEqual(exact.apply(112.5), 0.75, accuracy: 1e-6)
        let sigmoid = VOITransform.window(center: 100, width: 50, function: .sigmoid)
        XCTAssertEqual(sigmoid.apply(100), 0.5, accuracy: 1e-6)
        XCTAssertEqual(sigmoid.apply(125), Float(1 / (1 + exp(-2.0))), accuracy: 1e-6)
    }

    func testLookupTableClampsOutsideItsRange() {
        let table = LookupTable(descriptor: [4, 65534, 16], data: [10, 20, 30, 40], signedInput: true)!
        XCTAssertEqual(table.firstMapped, -2, "first mapped value is signed for signed pixel data")
        XCTAssertEqual(table.apply(-100), 10)
        XCTAssertEqual(table.apply(-1), 20)
        XCTAssertEqual(table.apply(1), 40)
        XCTAssertEqual(table.apply(500), 40)
        let packed = LookupTable(descriptor: [4, 0, 8], data: [0x0201, 0x0403], signedInput: false)!
        XCTAssertEqual(packed.entries, [1, 2, 3, 4], "8-bit entries packed two per word, low byte first")
    }

    func testPatientAge() {
        XCTAssertEqual(PatientAge.parse("045Y"), 45)
        XCTAssertEqual(PatientAge.parse("006M"), 0.5)
        XCTAssertNil(PatientAge.parse("abc"))
        XCTAssertEqual(PatientAge.years(ageString: nil, birthDate: "19600715", at: "20240714"), 63)
        XCTAssertEqual(PatientAge.years(ageString: nil, birthDate: "19600715", at: "20240715"), 64)
        XCTAssertNil(PatientAge.years(ageString: nil, birthDate: "20300101", at: "20240101"))
    }
}
